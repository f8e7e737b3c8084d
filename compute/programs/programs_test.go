package programs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/compute/programs/internal/analytics"
	"github.com/sealnet/sealnet/internal/wasmbuild"
	"github.com/sealnet/sealnet/sandbox"
)

var modules wasmbuild.Cache

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "programs-test")
	if err != nil {
		panic(err)
	}
	modules.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(t testing.TB, name string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	b, err := modules.Get(context.Background(), "./compute/programs/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var natives = map[string]func(fs.FS, io.Writer) error{
	"stats":   analytics.Stats,
	"anomaly": analytics.Anomalies,
}

// machine makes a spindle-temperature series: a slow drift, a daily
// cycle, sensor noise from a fixed generator and a few spikes.
func machine(name string, n int, seed uint64) sandbox.File {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# spindle temperature, %s\n", name)
	x := seed
	for i := range n {
		x = x*6364136223846793005 + 1442695040888963407
		noise := int64(x>>40)%400 - 200
		cycle := int64(i%1440) - 720
		if cycle < 0 {
			cycle = -cycle
		}
		v := 41_000 + int64(i)/50 + cycle*3 + noise
		if i%997 == 500 {
			v += 9_000
		}
		fmt.Fprintf(&b, "%d,%s\n", 1767225600000+int64(i)*60_000, analytics.FormatFixed(v))
	}
	return sandbox.File{Name: name, Data: b.Bytes()}
}

func inputs(t testing.TB, n int) sandbox.Files {
	t.Helper()
	in, err := sandbox.NewFiles(machine("press-7", n, 1), machine("press-8", n, 2))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

var limits = sandbox.Limits{MemoryBytes: 512 << 20, WallTime: 2 * time.Minute, OutputBytes: 16 << 20}

// Each program gives in the sandbox, on both engines and on every run, the
// bytes its code gives natively.
func TestProgramsMatchNativeOnBothEngines(t *testing.T) {
	in := inputs(t, 5000)
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			wasm := build(t, name)
			var native bytes.Buffer
			if err := natives[name](in, &native); err != nil {
				t.Fatal(err)
			}
			if native.Len() == 0 {
				t.Fatal("no output")
			}
			for _, engine := range []sandbox.Engine{sandbox.Compiler, sandbox.Interpreter} {
				rt, err := sandbox.New(context.Background(), sandbox.Config{Engine: engine})
				if err != nil {
					t.Fatal(err)
				}
				defer rt.Close(context.Background())
				m, err := rt.Compile(context.Background(), wasm, sha256.Sum256(wasm))
				if err != nil {
					t.Fatal(err)
				}
				for run := range 2 {
					res, err := rt.Run(context.Background(), m, sandbox.Spec{Inputs: in, Args: []string{name}, Limits: limits})
					if err != nil {
						t.Fatalf("%s run %d: %v: %s", engine, run, err, res.Stderr)
					}
					if !bytes.Equal(res.Output, native.Bytes()) {
						t.Fatalf("%s run %d differs from native:\n%.300s\nvs\n%.300s", engine, run, res.Output, native.Bytes())
					}
				}
			}
		})
	}
}

func TestStatsFigures(t *testing.T) {
	in, _ := sandbox.NewFiles(sandbox.File{Name: "a", Data: []byte("1,2\n2,4\n3,4\n4,4\n5,5\n6,5\n7,7\n8,9\n")},
		sandbox.File{Name: "b", Data: []byte("# empty\n")})
	var out bytes.Buffer
	if err := analytics.Stats(in, &out); err != nil {
		t.Fatal(err)
	}
	want := "a count=8 min=2.000 max=9.000 mean=5.000 stddev=2.000\nb count=0\nall count=8 min=2.000 max=9.000 mean=5.000 stddev=2.000\n"
	if out.String() != want {
		t.Fatalf("got %q", out.String())
	}
	for _, bad := range []string{"x", "1,2.0001", "1,abc", "1,1e3", "1,1234567890"} {
		in, _ := sandbox.NewFiles(sandbox.File{Name: "a", Data: []byte(bad + "\n")})
		if err := analytics.Stats(in, io.Discard); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestAnomalyFlagsSpikes(t *testing.T) {
	var out bytes.Buffer
	if err := analytics.Anomalies(inputs(t, 3000), &out); err != nil {
		t.Fatal(err)
	}
	// the spikes at samples 500, 1497 and 2494 of each series, and few others
	for _, series := range []string{"press-7", "press-8"} {
		for _, i := range []int64{500, 1497, 2494} {
			if want := fmt.Sprintf("%s,%d,", series, 1767225600000+i*60_000); !strings.Contains(out.String(), want) {
				t.Fatalf("spike %s not flagged in\n%s", want, out.String())
			}
		}
	}
	if n := strings.Count(out.String(), "\n"); n > 2+8 {
		t.Fatalf("%d lines flagged", n-2)
	}
}

// A program that fails on its input exits with an error, and what it
// printed on stderr stays out of the error.
func TestBadInputFailsTheRun(t *testing.T) {
	wasm := build(t, "stats")
	rt, err := sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Compile(context.Background(), wasm, sha256.Sum256(wasm))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sandbox.NewFiles(sandbox.File{Name: "a", Data: []byte("1,secret-4711\n")})
	res, err := rt.Run(context.Background(), m, sandbox.Spec{Inputs: in, Limits: limits})
	if !errors.Is(err, sandbox.ErrExit) || strings.Contains(err.Error(), "4711") || !bytes.Contains(res.Stderr, []byte("stats:")) {
		t.Fatalf("err %v, stderr %q", err, res.Stderr)
	}
}

// The recipe gives the same module from a copy of the source in another
// directory with another build cache. It rebuilds the standard library
// for wasm, so it runs only with SEALNET_SLOW_TESTS=1.
func TestReproducibleBuild(t *testing.T) {
	if os.Getenv("SEALNET_SLOW_TESTS") != "1" {
		t.Skip("set SEALNET_SLOW_TESTS=1 to rebuild with an empty build cache")
	}
	want := sha256.Sum256(build(t, "stats"))
	wd, _ := os.Getwd()
	root, err := wasmbuild.ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	// a minimal copy of the module: go.mod, go.sum and the program's tree
	copyRoot := filepath.Join(t.TempDir(), "elsewhere")
	for _, rel := range []string{"go.mod", "go.sum", "compute/programs"} {
		cmd := exec.Command("cp", "-r", "--parents", rel, copyRoot)
		cmd.Dir = root
		os.MkdirAll(copyRoot, 0o755)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v %s", rel, err, out)
		}
	}
	t.Setenv("GOCACHE", t.TempDir())
	got, err := wasmbuild.Build(context.Background(), copyRoot, "./compute/programs/stats", filepath.Join(t.TempDir(), "stats.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("rebuilt module %x, want %x", got, want)
	}
}

// The build script and internal/wasmbuild are one recipe.
func TestScriptFollowsTheRecipe(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := wasmbuild.ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts", "build-programs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(wasmbuild.Env(), "-trimpath", "-buildvcs=false", `-ldflags="-s -w -buildid="`) {
		if !bytes.Contains(script, []byte(s)) {
			t.Errorf("scripts/build-programs.sh lacks %s", s)
		}
	}
	for _, name := range Names {
		if !bytes.Contains(script, []byte(" "+name)) {
			t.Errorf("scripts/build-programs.sh does not build %s", name)
		}
	}
}

// BenchmarkPrograms compares each program run natively with the same code
// in the sandbox (compiled engine, module already compiled): ns/op of the
// whole run on 2 x 20,000 samples, and the ratio. "wasm" is the default
// sandbox, which stops a run at its wall-time limit from inside the
// process; "wasm-nochecks" leaves that to a process deadline.
func BenchmarkPrograms(b *testing.B) {
	in := inputs(b, 20_000)
	rt, err := sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	fast, err := sandbox.New(context.Background(), sandbox.Config{ProcessDeadline: true})
	if err != nil {
		b.Fatal(err)
	}
	defer fast.Close(context.Background())
	for _, name := range Names {
		var nativeNs float64
		b.Run(name+"/native", func(b *testing.B) {
			for b.Loop() {
				if err := natives[name](in, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			nativeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		wasm := build(b, name)
		for _, v := range []struct {
			name string
			rt   *sandbox.Runtime
		}{{"wasm", rt}, {"wasm-nochecks", fast}} {
			m, err := v.rt.Compile(context.Background(), wasm, sha256.Sum256(wasm))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := v.rt.Run(context.Background(), m, sandbox.Spec{Inputs: in, Limits: limits}); err != nil {
						b.Fatal(err)
					}
				}
				if nativeNs > 0 {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nativeNs, "x-native")
				}
			})
		}
	}
}

// BenchmarkCompile is the cost of compiling a program module when the
// worker's cache does not have it yet.
func BenchmarkCompile(b *testing.B) {
	wasm := build(b, "stats")
	for _, engine := range []sandbox.Engine{sandbox.Compiler, sandbox.Interpreter} {
		b.Run(string(engine), func(b *testing.B) {
			for b.Loop() {
				rt, err := sandbox.New(context.Background(), sandbox.Config{Engine: engine})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rt.Compile(context.Background(), wasm, sha256.Sum256(wasm)); err != nil {
					b.Fatal(err)
				}
				rt.Close(context.Background())
			}
		})
	}
}
