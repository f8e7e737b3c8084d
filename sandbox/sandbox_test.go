package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/wasmbuild"
)

var modules wasmbuild.Cache

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-test")
	if err != nil {
		panic(err)
	}
	modules.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// program builds ./sandbox/testdata/<name> once per test binary.
func program(t testing.TB, name string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	b, err := modules.Get(context.Background(), "./sandbox/testdata/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runtimeFor(t testing.TB, engine Engine) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), Config{Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func compile(t testing.TB, rt *Runtime, wasm []byte) *Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), wasm, sha256.Sum256(wasm))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var generous = Limits{MemoryBytes: 256 << 20, WallTime: time.Minute, OutputBytes: 1 << 20}

func TestRunReadsInputsArgsEnvAndStdin(t *testing.T) {
	rt := runtimeFor(t, "")
	m := compile(t, rt, program(t, "echo"))
	in, err := NewFiles(File{Name: "b", Data: []byte("second ")}, File{Name: "a", Data: []byte("first ")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rt.Run(context.Background(), m, Spec{Inputs: in, Stdin: strings.NewReader("stdin "), Args: []string{"echo", "arg "},
		Env: []string{"MODE=env"}, Limits: generous})
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, res.Stderr)
	}
	if got, want := string(res.Output), "first second stdin arg env"; got != want {
		t.Fatalf("output %q, want %q (a write to /in must fail)", got, want)
	}
}

func TestHashMismatchRefused(t *testing.T) {
	rt := runtimeFor(t, "")
	wasm := program(t, "echo")
	want := sha256.Sum256(wasm)
	want[0] ^= 1
	if _, err := rt.Compile(context.Background(), wasm, want); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("compiled a module whose hash differs: %v", err)
	}
	junk := []byte("\x00asm but not really")
	if _, err := rt.Compile(context.Background(), junk, sha256.Sum256(junk)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("junk: %v", err)
	}
}

func TestLimits(t *testing.T) {
	rt := runtimeFor(t, "")
	cases := []struct {
		name   string
		prog   string
		limits Limits
		want   error
	}{
		{"memory", "memhog", Limits{MemoryBytes: 64 << 20, WallTime: time.Minute, OutputBytes: 1 << 20}, ErrMemoryLimit},
		{"memory below the module's minimum", "echo", Limits{MemoryBytes: PageSize, WallTime: time.Minute, OutputBytes: 1 << 20}, ErrMemoryLimit},
		{"time", "spin", Limits{MemoryBytes: 64 << 20, WallTime: 300 * time.Millisecond, OutputBytes: 1 << 20}, ErrTimeLimit},
		{"output", "flood", Limits{MemoryBytes: 64 << 20, WallTime: time.Minute, OutputBytes: 100_000}, ErrOutputLimit},
		{"panic", "panic", generous, ErrExit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, rt, program(t, tc.prog))
			start := time.Now()
			res, err := rt.Run(context.Background(), m, Spec{Limits: tc.limits})
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if int64(len(res.Output)) > tc.limits.OutputBytes {
				t.Fatalf("%d output bytes past the limit", len(res.Output))
			}
			if res.Memory > tc.limits.MemoryBytes {
				t.Fatalf("memory %d past the limit", res.Memory)
			}
			if d := time.Since(start); d > tc.limits.WallTime+10*time.Second {
				t.Fatalf("took %s", d)
			}
			// the error names the category, never what the program wrote
			if strings.Contains(err.Error(), "4711") {
				t.Fatalf("error carries program output: %v", err)
			}
		})
	}
}

func TestCancelStopsRun(t *testing.T) {
	rt := runtimeFor(t, "")
	m := compile(t, rt, program(t, "spin"))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := rt.Run(ctx, m, Spec{Limits: generous}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
}

// The same module gives the same bytes on every run, on both engines and
// with or without the context checks,
// although it reads the clock, random numbers and a map in iteration
// order; it cannot reach the network or the host's files.
func TestDeterministicAcrossRunsAndEngines(t *testing.T) {
	wasm := program(t, "probe")
	var outputs [][]byte
	for _, cfg := range []Config{{Engine: Compiler}, {Engine: Interpreter}, {Engine: Compiler, ProcessDeadline: true}} {
		rt, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(context.Background())
		m := compile(t, rt, wasm)
		for range 2 {
			res, err := rt.Run(context.Background(), m, Spec{Limits: generous})
			if err != nil {
				t.Fatalf("%+v: %v %s", cfg, err, res.Stderr)
			}
			outputs = append(outputs, res.Output)
		}
	}
	for i := 1; i < len(outputs); i++ {
		if !bytes.Equal(outputs[i], outputs[0]) {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, outputs[i], outputs[0])
		}
	}
	out := string(outputs[0])
	for _, want := range []string{"dial error true", "host file error true", "env 0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("probe output lacks %q:\n%s", want, out)
		}
	}
}

func TestCompiledModulesCachedByHash(t *testing.T) {
	rt, err := New(context.Background(), Config{MaxModules: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	echo, spin := program(t, "echo"), program(t, "spin")
	a := compile(t, rt, echo)
	if b := compile(t, rt, echo); a != b {
		t.Fatal("the same hash compiled twice")
	}
	compile(t, rt, spin) // evicts echo
	if c := compile(t, rt, echo); c == a {
		t.Fatal("evicted module returned")
	}
	if imp := a.Imports(); len(imp) == 0 || !strings.HasPrefix(imp[0], "wasi_snapshot_preview1.") {
		t.Fatalf("imports %v", imp)
	}
}

func TestFiles(t *testing.T) {
	if _, err := NewFiles(File{Name: "a"}, File{Name: "a"}); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if _, err := NewFiles(File{Name: "a/b"}); err == nil {
		t.Fatal("a path accepted as a name")
	}
}
