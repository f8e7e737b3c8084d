// Package sparkplugpb is the Sparkplug B payload (Eclipse Tahu's
// sparkplug_b.proto, proto2, package org.eclipse.tahu.protobuf) compiled
// for Go.
//
// sparkplug_b.proto is Eclipse Tahu's file as released (EPL-2.0, its
// header kept), unchanged; the Go code is generated from it by
// protoc 3.21.12 with protoc-gen-go v1.36.12 (the google.golang.org/protobuf
// version in go.sum). To regenerate, with both on PATH:
//
//	go generate ./dcmb/source/sparkplug/sparkplugpb
package sparkplugpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Msparkplug_b.proto=github.com/sealnet/sealnet/dcmb/source/sparkplug/sparkplugpb sparkplug_b.proto
