// Package module runs DCMB modules: the WebAssembly programs a certified
// stream processes its batches with (paper 000, 3.3), and validates them
// for a certifier.
//
// A DCMB module is a WASI preview 1 program (Go with GOOS=wasip1, built
// with sealnet's reproducible recipe; any language that targets WASI
// works). Its identity is the SHA-256 of its .wasm bytes: the hash its
// certification names, the sandbox caches compiled code by, and every
// anchor of a certified stream carries. It runs in package sandbox with
// no network, files or environment, WASI's clock and randomness fixed,
// and bounded memory, wall time and output; a fresh instance per batch,
// so a batch's outputs depend on that batch alone.
//
// # The ABI
//
// The node writes one request on the module's standard input and reads
// one response from its standard output (uvarint as encoding/binary,
// svarint its zig-zag form):
//
//	request  = "SNDMIN01" uvarint(first_seq) uvarint(count) message*count
//	message  = uvarint(len(key)) key uvarint(len(value)) value svarint(time)
//	response = "SNDMOU01" output* 0x00
//	output   = 0x01 uvarint(index) uvarint(len(name)) name uvarint(len(text)) text
//
// Message i has sequence number first_seq+i and the time its source read
// it (Unix ns); keys are at most 256 bytes, values 64 KiB. An output is
// about message index (< count); its name is one of the outputs the
// module's certification declares, at most 64 bytes; its text is UTF-8 of
// at most 1 KiB; a batch has at most 4096 outputs. Nothing may follow the
// end record, and a module that exits non-zero, traps or passes a limit
// has no outputs. The format allows several requests in one run (a module
// answers each in turn until its input ends); the node sends one.
//
// What the node does with outputs is its configuration's: an output
// mapped to a condition is a label, submitted as H(label, salt) once the
// batch's anchor committed ([[stream.module.label]]). The module sees
// neither the salt nor the chain.
//
// Modules written in Go use github.com/sealnet/sealnet/dcmb/modules/abi,
// the module side of this format (its own Go module, so that a module's
// source tree is small enough to review); dcmb/modules/maintenance is
// paper 000's section 5 mapping.
//
// # Checks
//
// Load refuses a module whose bytes do not hash to its descriptor's
// module hash (ErrHashMismatch), that imports anything outside
// wasi_snapshot_preview1, any socket function, or anything its descriptor
// does not list (ErrImport). Process refuses a batch's run that traps
// (sandbox.ErrTrap), exits non-zero (sandbox.ErrExit), passes its memory,
// time or output limit (sandbox.ErrMemoryLimit, ErrTimeLimit,
// ErrOutputLimit), writes a malformed response (ErrMalformed) or an
// output its descriptor does not declare (ErrUndeclared). Validate runs a
// certifier's test set (tests.go).
package module
