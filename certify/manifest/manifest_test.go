package manifest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sealnet/sealnet/canon"
)

func testProposal() Proposal {
	src := sha256.Sum256([]byte("src"))
	mod := sha256.Sum256([]byte("mod"))
	return Proposal{Descriptor: Descriptor{Name: "redact", Version: 1, Source: src[:],
		Recipe: Recipe{Toolchain: "go1.26.8", Package: "./redact", Env: []string{"GOOS=wasip1"}},
		Module: mod[:], Imports: []string{"wasi_snapshot_preview1.fd_write"}, Outputs: []string{"messages"}},
		Channel: "default", Purpose: "dcmb.redact"}
}

func TestProposalValidate(t *testing.T) {
	good := testProposal()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(p *Proposal){
		"upper-case name":    func(p *Proposal) { p.Name = "Redact" },
		"empty name":         func(p *Proposal) { p.Name = "" },
		"long name":          func(p *Proposal) { p.Name = strings.Repeat("a", MaxName+1) },
		"leading dot":        func(p *Proposal) { p.Name = ".redact" },
		"version 0":          func(p *Proposal) { p.Version = 0 },
		"short source":       func(p *Proposal) { p.Source = p.Source[:31] },
		"long module":        func(p *Proposal) { p.Module = append(p.Module, 0) },
		"no toolchain":       func(p *Proposal) { p.Recipe.Toolchain = "" },
		"no package":         func(p *Proposal) { p.Recipe.Package = "" },
		"control in package": func(p *Proposal) { p.Recipe.Package = "./a\nb" },
		"env without =":      func(p *Proposal) { p.Recipe.Env = []string{"GOOS"} },
		"env without key":    func(p *Proposal) { p.Recipe.Env = []string{"=wasm"} },
		"import without dot": func(p *Proposal) { p.Imports = []string{"fd_write"} },
		"import with space":  func(p *Proposal) { p.Imports = []string{"wasi.fd write"} },
		"imports unordered":  func(p *Proposal) { p.Imports = []string{"w.b", "w.a"} },
		"imports repeated":   func(p *Proposal) { p.Imports = []string{"w.a", "w.a"} },
		"output name":        func(p *Proposal) { p.Outputs = []string{"Messages"} },
		"outputs unordered":  func(p *Proposal) { p.Outputs = []string{"b", "a"} },
		"no channel":         func(p *Proposal) { p.Channel = "" },
		"no purpose":         func(p *Proposal) { p.Purpose = "" },
	} {
		p := testProposal()
		mutate(&p)
		if err := p.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

// The ID covers every field: changing any one changes it.
func TestProposalIDCoversEveryField(t *testing.T) {
	base := testProposal()
	id := base.ID()
	for name, mutate := range map[string]func(p *Proposal){
		"name":    func(p *Proposal) { p.Name = "redacts" },
		"version": func(p *Proposal) { p.Version = 2 },
		"source":  func(p *Proposal) { p.Source = bytes.Repeat([]byte{1}, 32) },
		"recipe":  func(p *Proposal) { p.Recipe.Flags = []string{"-trimpath"} },
		"module":  func(p *Proposal) { p.Module = bytes.Repeat([]byte{1}, 32) },
		"imports": func(p *Proposal) { p.Imports = nil },
		"outputs": func(p *Proposal) { p.Outputs = []string{"labels", "messages"} },
		"channel": func(p *Proposal) { p.Channel = "other" },
		"purpose": func(p *Proposal) { p.Purpose = "dcmb.label" },
	} {
		p := testProposal()
		mutate(&p)
		if p.ID() == id {
			t.Errorf("changing the %s keeps the ID", name)
		}
	}
}

func TestVoteCheck(t *testing.T) {
	p := testProposal()
	id := p.ID()
	other := sha256.Sum256([]byte("other"))
	h := sha256.Sum256([]byte("h"))
	vote := func(build string, rebuilt []byte, validation string) Vote {
		v := Vote{Channel: "default", Proposal: id[:], Name: "redact", Version: 1, Build: build, Rebuilt: rebuilt, Validation: validation}
		if validation != "" {
			v.Log, v.Tests = h[:], h[:]
		}
		return v
	}
	for _, c := range []struct {
		v       Vote
		err     error
		verdict string
	}{
		{vote(BuildReproduced, p.Module, ValidationPassed), nil, VerdictApprove},
		{vote(BuildReproduced, p.Module, ValidationFailed), nil, VerdictRejected},
		{vote(BuildDiffers, other[:], ""), nil, VerdictDiffers},
		{vote(BuildDiffers, other[:], ValidationPassed), nil, VerdictDiffers},
		{vote(BuildFails, nil, ""), nil, VerdictNoBuild},
		{vote(BuildFails, nil, ValidationFailed), nil, VerdictNoBuild},
		{vote(BuildReproduced, other[:], ValidationPassed), ErrRebuiltDiffers, ""},
		{vote(BuildDiffers, p.Module, ""), ErrRebuiltSame, ""},
		{vote(BuildFails, other[:], ""), ErrInvalid, ""},
		{vote(BuildReproduced, p.Module, ""), ErrInvalid, ""},
		{vote(BuildReproduced, p.Module[:31], ValidationPassed), ErrInvalid, ""},
		{vote("", nil, ""), ErrInvalid, ""},
		{vote(BuildReproduced, p.Module, "skipped"), ErrInvalid, ""},
	} {
		err := c.v.Check(p.Module)
		if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s/%s: got %v, want %v", c.v.Build, c.v.Validation, err, c.err)
			continue
		}
		if err == nil && c.v.Verdict() != c.verdict {
			t.Errorf("%s/%s: verdict %q, want %q", c.v.Build, c.v.Validation, c.v.Verdict(), c.verdict)
		}
	}
	v := vote(BuildReproduced, p.Module, ValidationPassed)
	v.Log = nil
	if err := v.Check(p.Module); !errors.Is(err, ErrInvalid) {
		t.Errorf("a validation without its log: %v", err)
	}
	v = vote(BuildFails, nil, "")
	v.Tests = h[:]
	if err := v.Check(p.Module); !errors.Is(err, ErrInvalid) {
		t.Errorf("tests without a validation: %v", err)
	}
	v = vote(BuildFails, nil, "")
	v.Note = strings.Repeat("x", MaxNote+1)
	if err := v.Check(p.Module); !errors.Is(err, ErrInvalid) {
		t.Errorf("a long note: %v", err)
	}
	v.Proposal = id[:16]
	if err := v.Check(p.Module); !errors.Is(err, ErrInvalid) {
		t.Errorf("a short proposal ID: %v", err)
	}
}

func TestAllowsImports(t *testing.T) {
	d := testProposal().Descriptor
	if err := d.AllowsImports([]string{"wasi_snapshot_preview1.fd_write"}); err != nil {
		t.Error(err)
	}
	if err := d.AllowsImports(nil); err != nil {
		t.Error(err)
	}
	err := d.AllowsImports([]string{"wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.sock_accept"})
	if !errors.Is(err, ErrImport) || !strings.Contains(err.Error(), "sock_accept") {
		t.Errorf("got %v", err)
	}
}

func TestTestSetOpensOneCaseAtATime(t *testing.T) {
	var secret TestSecret
	secret[0] = 7
	cases := []TestCase{{"a", []byte("1")}, {"b", []byte("2")}, {"c", nil}, {"d", []byte("4")}, {"e", []byte("5")}}
	commit, err := CommitTests(secret, cases)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		o, err := OpenTest(secret, cases, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyTest(commit, cases[i], o); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
		// another case's content, or this case under another index, fails
		other := cases[(i+1)%len(cases)]
		if err := VerifyTest(commit, other, o); !errors.Is(err, ErrTestOpening) {
			t.Errorf("case %d opened with case %d's content: %v", i, (i+1)%len(cases), err)
		}
		moved := *o
		moved.Index = uint64((i + 1) % len(cases))
		if err := VerifyTest(commit, cases[i], &moved); !errors.Is(err, ErrTestOpening) {
			t.Errorf("case %d opened at index %d: %v", i, moved.Index, err)
		}
		fewer := *o
		fewer.Count--
		if err := VerifyTest(commit, cases[i], &fewer); !errors.Is(err, ErrTestOpening) {
			t.Errorf("case %d opened with a smaller count: %v", i, err)
		}
	}
	// the same cases under another secret commit differently
	other := secret
	other[0] = 8
	if c2, _ := CommitTests(other, cases); c2 == commit {
		t.Error("the commitment does not depend on the secret")
	}
	if _, err := CommitTests(secret, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty test set: %v", err)
	}
	if _, err := OpenTest(secret, cases, 5); err == nil {
		t.Error("opened a case beyond the set")
	}
}

func TestHashSource(t *testing.T) {
	tree := fstest.MapFS{
		"go.mod":       {Data: []byte("module m\n")},
		"main.go":      {Data: []byte("package main\n")},
		"sub/a.go":     {Data: []byte("package sub\n")},
		"sub/empty.go": {Data: nil},
	}
	h, err := HashSource(tree)
	if err != nil {
		t.Fatal(err)
	}
	// contents, paths and the split between them count; modes do not
	for name, change := range map[string]func(fstest.MapFS){
		"content":    func(m fstest.MapFS) { m["main.go"] = &fstest.MapFile{Data: []byte("package main \n")} },
		"path":       func(m fstest.MapFS) { m["main2.go"] = m["main.go"]; delete(m, "main.go") },
		"added file": func(m fstest.MapFS) { m["sub/b.go"] = &fstest.MapFile{} },
		"split":      func(m fstest.MapFS) { m["go.mo"] = &fstest.MapFile{Data: []byte("dmodule m\n")}; delete(m, "go.mod") },
	} {
		m := fstest.MapFS{}
		for k, v := range tree {
			m[k] = &fstest.MapFile{Data: v.Data}
		}
		change(m)
		if h2, err := HashSource(m); err != nil || h2 == h {
			t.Errorf("%s: hash %v, %v", name, h2, err)
		}
	}
	m := fstest.MapFS{}
	for k, v := range tree {
		m[k] = &fstest.MapFile{Data: v.Data, Mode: 0o755}
	}
	if h2, _ := HashSource(m); h2 != h {
		t.Error("file modes change the hash")
	}
	// the order is the whole paths' byte order, not a walk's
	ordered := fstest.MapFS{"a/b": {Data: []byte("1")}, "a.go": {Data: []byte("2")}}
	got, err := HashSource(ordered)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(sourceInput([]sourceFile{{"a.go", []byte("2")}, {"a/b", []byte("1")}}))
	if got != want {
		t.Error("files are not hashed in the byte order of their paths")
	}
	m["link"] = &fstest.MapFile{Data: []byte("main.go"), Mode: 0o777 | 1<<27} // fs.ModeSymlink
	if _, err := HashSource(m); err == nil {
		t.Error("a symbolic link was hashed")
	}
}

func TestHashText(t *testing.T) {
	h, err := HashModule(bytes.NewReader([]byte("abc")))
	if err != nil {
		t.Fatal(err)
	}
	if h != sha256.Sum256([]byte("abc")) {
		t.Error("HashModule is not SHA-256 of the bytes")
	}
	text, _ := h.MarshalText()
	var back Hash
	if err := back.UnmarshalText(text); err != nil || back != h {
		t.Errorf("round trip: %v %v", back, err)
	}
	if _, err := ParseHash(strings.ToUpper(h.String())); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", h.String()[:63], h.String() + "0", "zz" + h.String()[2:]} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

// Whatever decodes as a proposal or a vote is its own canonical encoding,
// so a signed argument has exactly one byte form.
func FuzzDecode(f *testing.F) {
	p := testProposal()
	f.Add(canon.MustMarshal(&p))
	id := p.ID()
	f.Add(canon.MustMarshal(&Vote{Channel: "default", Proposal: id[:], Name: "redact", Version: 1, Build: BuildFails}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Proposal
		if canon.Unmarshal(data, &p) == nil {
			if again := canon.MustMarshal(&p); !bytes.Equal(again, data) {
				t.Fatalf("proposal %x re-encodes as %x", data, again)
			}
			_ = p.Validate()
		}
		var v Vote
		if canon.Unmarshal(data, &v) == nil {
			if again := canon.MustMarshal(&v); !bytes.Equal(again, data) {
				t.Fatalf("vote %x re-encodes as %x", data, again)
			}
			_ = v.Check(make([]byte, 32))
		}
	})
}
