// Package sandbox runs an untrusted WebAssembly module (WASI preview 1) on
// given inputs under limits, and returns what it wrote.
//
// A run has no network, no clock and no randomness of the host: wazero's
// defaults are kept, so WASI's clock is fixed and its random bytes are a
// fixed sequence, and the same module on the same inputs writes the same
// bytes on any machine, compiled or interpreted. Inputs are mounted read
// only at /in; standard output is the result, capped; standard error is
// kept (capped) for the operator's diagnostics only, since a program may
// print its inputs there. Memory is bounded per run through wazero's memory
// allocator hook, wall time through the context (the module is closed when
// it expires), output by the writer.
//
// Compiled modules are cached by the SHA-256 of their bytes. The cache is
// executable input: a Runtime keeps it in memory, or in a directory the
// caller must keep private to the worker.
//
// The package knows nothing of jobs or chains: compute jobs run programs
// through it, and so can any other caller that needs "this module on these
// inputs with these limits".
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Engine selects how modules execute.
type Engine string

// Engines. Both give the same output bytes for the same module and inputs.
const (
	Compiler    Engine = "compiler"    // ahead-of-time to machine code (amd64, arm64)
	Interpreter Engine = "interpreter" // portable, slower to run, faster to compile
)

// Config configures a Runtime.
type Config struct {
	// Engine is Compiler (the default where supported) or Interpreter.
	Engine Engine
	// CacheDir, if set, keeps compiled code on disk across processes. It
	// is executable input: keep it private to the worker.
	CacheDir string
	// MaxModules bounds the compiled modules kept in memory (default 16);
	// the oldest is dropped first.
	MaxModules int
	// ProcessDeadline turns off wazero's checks of the context inside
	// running code, which cost a tight loop a factor of about four. Runs
	// then cannot be stopped from within the process: Limits.WallTime is
	// not enforced, and the caller must run the sandbox in a process it
	// kills at the deadline. Leave it off unless that is so.
	ProcessDeadline bool
}

// Hash is the SHA-256 of a module's bytes.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// Errors of Compile and Run. A run's failure wraps exactly one of the run
// errors, so a caller can report it by category without its details.
var (
	ErrHashMismatch = errors.New("module hash does not match")
	ErrInvalid      = errors.New("not a valid WASI module")
	ErrMemoryLimit  = errors.New("memory limit exceeded")
	ErrTimeLimit    = errors.New("time limit exceeded")
	ErrOutputLimit  = errors.New("output limit exceeded")
	ErrTrap         = errors.New("program trapped")
	ErrExit         = errors.New("program exited with an error")
	ErrClosed       = errors.New("sandbox closed")
)

// Runtime compiles and runs modules. It is safe for concurrent use.
type Runtime struct {
	rt     wazero.Runtime
	cache  wazero.CompilationCache
	engine Engine
	max    int

	mu      sync.Mutex
	modules map[Hash]*Module
	order   []Hash // insertion order, for eviction
	closed  bool
}

// Module is a compiled module.
type Module struct {
	Hash     Hash
	compiled wazero.CompiledModule
	minPages uint32
}

// New returns a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	var rc wazero.RuntimeConfig
	switch cfg.Engine {
	case "":
		rc = wazero.NewRuntimeConfig()
		cfg.Engine = Compiler
	case Compiler:
		rc = wazero.NewRuntimeConfigCompiler()
	case Interpreter:
		rc = wazero.NewRuntimeConfigInterpreter()
	default:
		return nil, fmt.Errorf("sandbox: unknown engine %q", cfg.Engine)
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: compilation cache: %w", err)
		}
		cache = c
		rc = rc.WithCompilationCache(c)
	}
	// DWARF would only lengthen trap messages, which are not passed on.
	rc = rc.WithCloseOnContextDone(!cfg.ProcessDeadline).WithDebugInfoEnabled(false)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("sandbox: WASI: %w", err)
	}
	if cfg.MaxModules <= 0 {
		cfg.MaxModules = 16
	}
	return &Runtime{rt: rt, cache: cache, engine: cfg.Engine, max: cfg.MaxModules, modules: map[Hash]*Module{}}, nil
}

// Engine reports the runtime's engine.
func (r *Runtime) Engine() Engine { return r.engine }

// Close releases the runtime and its compiled modules.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.modules = nil
	r.mu.Unlock()
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// Compile checks that wasm hashes to want and compiles it, or returns the
// module compiled earlier with that hash.
func (r *Runtime) Compile(ctx context.Context, wasm []byte, want Hash) (*Module, error) {
	if got := Hash(sha256.Sum256(wasm)); got != want {
		return nil, fmt.Errorf("%w: module is %s, want %s", ErrHashMismatch, got, want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if m, ok := r.modules[want]; ok {
		return m, nil
	}
	cm, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if cm.ExportedFunctions()["_start"] == nil {
		cm.Close(ctx)
		return nil, fmt.Errorf("%w: no _start function (build with GOOS=wasip1 GOARCH=wasm)", ErrInvalid)
	}
	m := &Module{Hash: want, compiled: cm, minPages: minPages(cm)}
	r.modules[want] = m
	r.order = append(r.order, want)
	for len(r.order) > r.max {
		old := r.order[0]
		r.order = r.order[1:]
		// A run in progress keeps its instance; wazero frees the code
		// when the last instance closes.
		_ = r.modules[old].compiled.Close(ctx)
		delete(r.modules, old)
	}
	return m, nil
}

// Imports lists the host functions a module imports, as "module.name", in
// the module's order: what a certification of the module must approve.
func (m *Module) Imports() []string {
	var out []string
	for _, f := range m.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		out = append(out, mod+"."+name)
	}
	return out
}

func minPages(cm wazero.CompiledModule) uint32 {
	var n uint32
	for _, d := range cm.ExportedMemories() {
		n = max(n, d.Min())
	}
	for _, d := range cm.ImportedMemories() {
		n = max(n, d.Min())
	}
	return n
}
