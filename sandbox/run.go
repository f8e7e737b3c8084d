package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// PageSize is the WebAssembly page, the unit memory grows by.
const PageSize = 64 << 10

// MaxMemoryBytes is the most a 32-bit WebAssembly memory can hold.
const MaxMemoryBytes = 4 << 30

// stderrCap bounds the diagnostics kept from a run.
const stderrCap = 8 << 10

// Limits bound one run. Every field must be set.
type Limits struct {
	MemoryBytes uint64        // linear memory, bytes (rounded down to whole 64 KiB pages; at most 4 GiB)
	WallTime    time.Duration // from instantiation to exit
	OutputBytes int64         // standard output, bytes
}

// Validate checks the limits.
func (l Limits) Validate() error {
	switch {
	case l.MemoryBytes < PageSize || l.MemoryBytes > MaxMemoryBytes:
		return fmt.Errorf("sandbox: memory limit %d bytes: want 64 KiB to 4 GiB", l.MemoryBytes)
	case l.WallTime <= 0:
		return fmt.Errorf("sandbox: wall-time limit %s: want a positive duration", l.WallTime)
	case l.OutputBytes < 0:
		return fmt.Errorf("sandbox: output limit %d bytes: want 0 or more", l.OutputBytes)
	}
	return nil
}

// Spec is one run: the inputs a module sees and its limits.
type Spec struct {
	// Inputs is mounted read-only at /in (nil: no /in).
	Inputs fs.FS
	// Stdin is the module's standard input (nil: empty).
	Stdin io.Reader
	// Args is the module's argv; by convention Args[0] names the program.
	Args []string
	// Env lists KEY=VALUE pairs; nothing of the host's environment is
	// passed otherwise.
	Env    []string
	Limits Limits
}

// Result is what a run produced.
type Result struct {
	Output   []byte // standard output, at most Limits.OutputBytes
	Stderr   []byte // the first 8 KiB of standard error: diagnostics that may contain input data
	Memory   uint64 // linear memory at exit, bytes
	Duration time.Duration
}

// Run executes m's _start under spec's limits. The error wraps one of
// ErrMemoryLimit, ErrTimeLimit, ErrOutputLimit, ErrTrap or ErrExit when
// the program failed (the Result then holds what it wrote until then), or
// is a usage error. Cancelling ctx stops the run with ctx's error.
func (r *Runtime) Run(ctx context.Context, m *Module, spec Spec) (*Result, error) {
	if err := spec.Limits.Validate(); err != nil {
		return nil, err
	}
	pages := uint32(spec.Limits.MemoryBytes / PageSize)
	if m.minPages > pages {
		return &Result{}, fmt.Errorf("%w: the module starts with %d KiB, the limit is %d KiB", ErrMemoryLimit, uint64(m.minPages)*PageSize>>10, spec.Limits.MemoryBytes>>10)
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, spec.Limits.WallTime, ErrTimeLimit)
	defer cancel()
	stdout := &cappedWriter{limit: spec.Limits.OutputBytes, overflow: cancel}
	stderr := &cappedWriter{limit: stderrCap}
	mem := &limitedMemory{limit: uint64(pages) * PageSize}
	runCtx = experimental.WithMemoryAllocator(runCtx, mem)

	cfg := wazero.NewModuleConfig().WithName("").WithStdout(stdout).WithStderr(stderr).WithArgs(spec.Args...)
	if spec.Stdin != nil {
		cfg = cfg.WithStdin(spec.Stdin)
	}
	if spec.Inputs != nil {
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().WithFSMount(spec.Inputs, "/in"))
	}
	for _, kv := range spec.Env {
		k, v, ok := cut(kv)
		if !ok {
			return nil, fmt.Errorf("sandbox: environment entry %q is not KEY=VALUE", kv)
		}
		cfg = cfg.WithEnv(k, v)
	}

	start := time.Now()
	mod, err := r.rt.InstantiateModule(runCtx, m.compiled, cfg)
	res := &Result{Output: stdout.buf, Stderr: stderr.buf, Duration: time.Since(start), Memory: mem.size()}
	if mod != nil {
		_ = mod.Close(context.Background())
	}
	return res, classify(err, ctx, runCtx, stdout.exceeded, mem.refused)
}

// classify turns what wazero returned into one of the run errors. The
// order matters: an exceeded limit explains the exit that followed it.
func classify(err error, parent, run context.Context, outputExceeded, memoryRefused bool) error {
	if err == nil && !outputExceeded {
		return nil
	}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	switch {
	case outputExceeded:
		return ErrOutputLimit
	case parent.Err() != nil:
		return parent.Err()
	case context.Cause(run) == ErrTimeLimit:
		return ErrTimeLimit
	case memoryRefused:
		// Go's runtime dies with "out of memory" (exit 2) when a grow
		// is refused; other languages trap. Either way the limit is
		// the cause.
		return ErrMemoryLimit
	case isExit:
		return fmt.Errorf("%w: code %d", ErrExit, exit.ExitCode())
	default:
		return fmt.Errorf("%w: %v", ErrTrap, err)
	}
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], i > 0
		}
	}
	return "", "", false
}

// cappedWriter keeps up to limit bytes; a write beyond it fails and calls
// overflow, which stops the run.
type cappedWriter struct {
	buf      []byte
	limit    int64
	exceeded bool
	overflow func()
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	room := w.limit - int64(len(w.buf))
	if int64(len(p)) <= room {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if w.overflow == nil { // diagnostics: keep the start, drop the rest
		w.buf = append(w.buf, p[:max(room, 0)]...)
		return len(p), nil
	}
	w.exceeded = true
	w.overflow()
	return 0, ErrOutputLimit
}
