package module

// This file holds a loaded module: its checks before it runs (its bytes,
// its imports) and one batch's run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/sandbox"
)

// Errors. A refusal wraps one of them, or one of the sandbox's run errors
// (sandbox.ErrTrap, ErrExit, ErrTimeLimit, ErrMemoryLimit, ErrOutputLimit).
var (
	// ErrHashMismatch: the module's bytes are not the ones certified.
	ErrHashMismatch = sandbox.ErrHashMismatch
	// ErrImport: the module imports a host function its certification
	// does not allow (manifest.ErrImport), or one no DCMB module may.
	ErrImport = manifest.ErrImport
	// ErrUndeclared: the module wrote an output its certification does
	// not declare.
	ErrUndeclared = errors.New("output not declared")
)

// Host is the only host module a DCMB module may import from.
const Host = "wasi_snapshot_preview1"

// Forbidden are the WASI functions no DCMB module may import, whatever
// its descriptor says: sockets. (The sandbox gives a module no sockets,
// files or real clock anyway; these are refused so that a certification
// cannot even claim them.)
var Forbidden = []string{"sock_accept", "sock_recv", "sock_send", "sock_shutdown"}

// DefaultLimits bound one batch's run.
var DefaultLimits = sandbox.Limits{MemoryBytes: 256 << 20, WallTime: 30 * time.Second, OutputBytes: 4 << 20}

// Program is a module checked against its descriptor and compiled.
type Program struct {
	Hash    manifest.Hash
	Name    string
	Version uint64
	Imports []string // what it imports, sorted
	Outputs []string // the outputs it may write (its descriptor's)

	rt     *sandbox.Runtime
	mod    *sandbox.Module
	limits sandbox.Limits
}

// Load checks that wasm is the module d describes (its SHA-256), that it
// imports nothing d does not allow and nothing of Forbidden, and compiles
// it. Limits bound each run (zero fields: DefaultLimits').
func Load(ctx context.Context, rt *sandbox.Runtime, wasm []byte, d *manifest.Descriptor, limits sandbox.Limits) (*Program, error) {
	want, ok := manifest.HashOf(d.Module)
	if !ok {
		return nil, fmt.Errorf("descriptor of %s@%d names no 32-byte module hash", d.Name, d.Version)
	}
	m, err := rt.Compile(ctx, wasm, sandbox.Hash(want))
	if err != nil {
		return nil, fmt.Errorf("module %s@%d: %w", d.Name, d.Version, err)
	}
	p := &Program{Hash: want, Name: d.Name, Version: d.Version, Imports: m.Imports(), Outputs: d.Outputs, rt: rt, mod: m,
		limits: withDefaults(limits)}
	slices.Sort(p.Imports)
	p.Imports = slices.Compact(p.Imports)
	for _, imp := range p.Imports {
		mod, fn, _ := strings.Cut(imp, ".")
		if mod != Host || slices.Contains(Forbidden, fn) {
			return nil, fmt.Errorf("%w: module %s@%d imports %s, which no DCMB module may (only %s without sockets)", ErrImport, d.Name, d.Version, imp, Host)
		}
	}
	if err := d.AllowsImports(p.Imports); err != nil {
		return nil, err
	}
	return p, nil
}

func withDefaults(l sandbox.Limits) sandbox.Limits {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultLimits.MemoryBytes
	}
	if l.WallTime == 0 {
		l.WallTime = DefaultLimits.WallTime
	}
	if l.OutputBytes == 0 {
		l.OutputBytes = DefaultLimits.OutputBytes
	}
	return l
}

// Limits are the program's limits per run.
func (p *Program) Limits() sandbox.Limits { return p.limits }

// String names the program: name@version (hash prefix).
func (p *Program) String() string { return fmt.Sprintf("%s@%d (%.16s)", p.Name, p.Version, p.Hash) }

// Process runs the module on one batch, a fresh instance per batch, and
// returns its outputs. A module that traps, exits non-zero, passes a
// limit, writes a malformed response or an undeclared output is refused
// with that reason; its standard error is returned beside the error for
// the operator (it may hold input data: do not put it on chain).
func (p *Program) Process(ctx context.Context, first uint64, msgs []wire.Message) ([]Output, []byte, error) {
	res, err := p.rt.Run(ctx, p.mod, sandbox.Spec{Stdin: NewRequest(first, msgs), Args: []string{p.Name}, Limits: p.limits})
	var stderr []byte
	if res != nil {
		stderr = bytes.Clone(res.Stderr)
	}
	if err != nil {
		return nil, stderr, fmt.Errorf("module %s: %w", p, err)
	}
	outs, err := DecodeResponse(res.Output, uint64(len(msgs)))
	if err != nil {
		return nil, stderr, fmt.Errorf("module %s: %w", p, err)
	}
	for _, o := range outs {
		if !slices.Contains(p.Outputs, o.Name) {
			return nil, stderr, fmt.Errorf("module %s: %w: it wrote output %q; its certification declares %s", p, ErrUndeclared, o.Name, list(p.Outputs))
		}
	}
	return outs, stderr, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
