// Package source reads machine data for the DCMB (paper 000): values from
// industrial protocols, each delivered as a Message in arrival order. A
// source that loses its server reconnects by itself and says so on its
// status channel; it never drops what it already received.
package source

import (
	"context"
	"time"
)

// Message is one value read from a source, or one the source received
// but could not read.
type Message struct {
	Source string    // the source's name in the configuration
	Key    string    // MQTT topic, OPC UA node ID, ...
	Value  []byte    // the raw value as the source delivered it
	Time   time.Time // when the source received it
	// Dropped, if set, is why the source could not read this message (a
	// payload that does not decode, a Sparkplug metric without a birth
	// certificate); Value is empty. The DCMB records its sequence number
	// on chain as dropped with this reason, so nothing is lost silently;
	// it is at most MaxDropped bytes of UTF-8.
	Dropped string
}

// MaxDropped bounds a Message's Dropped reason: the audit contract's limit
// on the reason of a drop.
const MaxDropped = 128

// Source delivers messages to out until ctx ends.
type Source interface {
	Run(ctx context.Context, out chan<- Message) error
}
