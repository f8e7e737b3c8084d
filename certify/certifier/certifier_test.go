package certifier

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/dcmb/modules"
	"github.com/sealnet/sealnet/sandbox"
)

// A certifier's test set for the maintenance module: the paper's value,
// the range's bounds, values that are not counters, and values that must
// not come out.
const tests = `# maintenance: 5300 < count < 5400 gives "Maintenance imminent"
{"name": "the paper's value", "in": [{"key": "press-7/count", "value": "5367"}], "want": [{"index": 0, "output": "maintenance", "text": "Maintenance imminent"}]}
{"name": "bounds", "in": [{"key": "c", "value": "5300"}, {"key": "c", "value": "5400"}], "want": []}
{"name": "once per key", "in": [{"key": "a", "value": "5301"}, {"key": "a", "value": "5302"}, {"key": "b", "value": "5399"}], "want": [{"index": 0, "output": "maintenance", "text": "Maintenance imminent"}, {"index": 2, "output": "maintenance", "text": "Maintenance imminent"}]}
{"name": "not counters", "in": [{"key": "c", "value": "warm"}, {"key": "c", "value": ""}, {"key": "c", "value": "5350.5"}]}
`

// source writes the maintenance module's source tree, edited.
func source(t *testing.T, edit func(string) string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := modules.WriteSource(src); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		main := filepath.Join(src, "maintenance", "main.go")
		b, _ := os.ReadFile(main)
		if err := os.WriteFile(main, []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// propose describes the module of src as its author would propose it.
func propose(t *testing.T, rt *sandbox.Runtime, src string) *manifest.Proposal {
	t.Helper()
	p := &manifest.Proposal{Descriptor: manifest.Descriptor{Name: "maintenance", Version: 1, Outputs: []string{"maintenance"}},
		Channel: "default", Purpose: "maintenance"}
	if _, err := Describe(context.Background(), rt, src, modules.Maintenance, t.TempDir(), &p.Descriptor); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func testSet(t *testing.T) *TestSet {
	t.Helper()
	cases, leaves, err := module.ReadTests(strings.NewReader(tests))
	if err != nil {
		t.Fatal(err)
	}
	return &TestSet{Cases: cases, Leaves: leaves, Secret: manifest.TestSecret{7}}
}

// A certifier rebuilds the proposed module byte for byte and validates it:
// the vote approves. A revision that puts the raw counter into its label
// builds, reproduces, and fails validation on the leak; the vote says so.
func TestExamine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WebAssembly modules")
	}
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	ts := testSet(t)

	src := source(t, nil)
	p := propose(t, rt, src)
	x, err := Examine(ctx, rt, p, src, t.TempDir(), ts, sandbox.Limits{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Vote.Check(p.Module); err != nil || x.Vote.Verdict() != manifest.VerdictApprove {
		t.Fatalf("vote %+v (%v): %s\n%s", x.Vote, err, x.Vote.Verdict(), x.Validation.Log)
	}
	if h, _ := manifest.HashLog(bytes.NewReader(x.Validation.Log)); !bytes.Equal(h[:], x.Vote.Log) {
		t.Fatal("the vote's log hash is not the log's")
	}
	c, _ := manifest.CommitTests(ts.Secret, ts.Leaves)
	if !bytes.Equal(c[:], x.Vote.Tests) {
		t.Fatal("the vote's test commitment is not the test set's")
	}
	// an auditor opens case 0 against the vote's commitment
	o, _ := manifest.OpenTest(ts.Secret, ts.Leaves, 0)
	if err := manifest.VerifyTest(c, ts.Leaves[0], o); err != nil {
		t.Fatal(err)
	}
	t.Logf("log:\n%s", x.Validation.Log)

	leaky := source(t, func(s string) string {
		return strings.Replace(s, "b.Emit(output, label)", `b.Emit(output, label+" at "+string(m.Value))`, 1)
	})
	lp := propose(t, rt, leaky)
	lp.Version = 2
	x, err = Examine(ctx, rt, lp, leaky, t.TempDir(), ts, sandbox.Limits{}, "")
	if err != nil {
		t.Fatal(err)
	}
	log := string(x.Validation.Log)
	if x.Vote.Build != manifest.BuildReproduced || x.Vote.Verdict() != manifest.VerdictRejected ||
		!strings.Contains(log, `carries the value "5367" of message 0`) || !strings.Contains(log, "result: failed") {
		t.Fatalf("leaky module: vote %+v, log:\n%s", x.Vote, log)
	}
	if err := x.Vote.Check(lp.Module); err != nil {
		t.Fatal(err)
	}

	// the proposed hash is not what the source builds to: differs
	other := *p
	other.Module = bytes.Repeat([]byte{1}, 32)
	x, err = Examine(ctx, rt, &other, src, t.TempDir(), ts, sandbox.Limits{}, "")
	if err != nil || x.Vote.Verdict() != manifest.VerdictDiffers || x.Validation != nil {
		t.Fatalf("differs: %+v %v", x, err)
	}
	if err := x.Vote.Check(other.Module); err != nil {
		t.Fatal(err)
	}
	// a recipe that would run the proposer's program: does not build
	evil := *p
	evil.Recipe.Flags = append([]string{"-toolexec=/bin/sh"}, evil.Recipe.Flags...)
	x, err = Examine(ctx, rt, &evil, src, t.TempDir(), ts, sandbox.Limits{}, "")
	if err != nil || x.Vote.Verdict() != manifest.VerdictNoBuild || !strings.Contains(x.Rebuilt.Reason, "-toolexec") {
		t.Fatalf("toolexec: %+v %v", x, err)
	}
	// a source tree other than the proposed one, or another toolchain:
	// the certifier's problem, not a vote
	if _, err := Examine(ctx, rt, p, leaky, t.TempDir(), ts, sandbox.Limits{}, ""); !errors.Is(err, ErrSource) {
		t.Fatalf("other source: %v", err)
	}
	old := *p
	old.Recipe.Toolchain = "go1.20"
	if _, err := Examine(ctx, rt, &old, src, t.TempDir(), ts, sandbox.Limits{}, ""); !errors.Is(err, ErrToolchain) {
		t.Fatalf("other toolchain: %v", err)
	}
}

func TestCheckRecipe(t *testing.T) {
	ok := manifest.Recipe{Toolchain: "go1.26.8", Package: "./maintenance", Env: []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS="},
		Flags: []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}}
	if err := CheckRecipe(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*manifest.Recipe){
		func(r *manifest.Recipe) { r.Package = "../elsewhere" },
		func(r *manifest.Recipe) { r.Package = "/abs" },
		func(r *manifest.Recipe) { r.Env = append(r.Env, "GOFLAGS=-toolexec=x") },
		func(r *manifest.Recipe) { r.Env = append(r.Env, "CC=/bin/evil") },
		func(r *manifest.Recipe) { r.Env = r.Env[1:] },
		func(r *manifest.Recipe) { r.Flags = append(r.Flags, "-overlay=o.json") },
		func(r *manifest.Recipe) { r.Flags = append(r.Flags, "-ldflags=-X main.v=1") },
		func(r *manifest.Recipe) { r.Flags = append(r.Flags, "-ldflags=-s -extld=/bin/sh") },
	} {
		r := ok
		r.Env, r.Flags = append([]string(nil), ok.Env...), append([]string(nil), ok.Flags...)
		bad(&r)
		if err := CheckRecipe(r); !errors.Is(err, ErrRecipe) {
			t.Errorf("%+v: %v", r, err)
		}
	}
}
