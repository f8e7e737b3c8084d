//go:build tools

// Package kubo pins the reference IPFS implementation that sealnet's interop
// tests and benchmarks run against; scripts/kubo.sh builds it.
package kubo

import _ "github.com/ipfs/kubo/cmd/ipfs"
