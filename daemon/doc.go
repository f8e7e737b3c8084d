// Package daemon is the composition root of a sealnet node: it assembles a
// running node from its home's configuration (the ledger's channels with
// their contracts, the libp2p host and its gate, storage, the custodian,
// the API server with its TLS and operations listeners, and the DCMB when
// configured) and takes it apart again. `sealnet up`, `sealnet dcmb run`,
// the in-process consortium of package local, the demos and the
// benchmarks all start nodes here; nothing else wires one.
package daemon
