package dcmb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/syncbuf"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/certify/certifier"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/dcmb/modules"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/testutil"
	"github.com/sealnet/sealnet/internal/wasmtest"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/sandbox"
)

// certifiedNet is a three-company consortium whose certifiers are org2
// and org3: both approvals certify, and suspend revocation votes suspend.
type certifiedNet struct {
	c                   *local.Consortium
	owner, maker, third *local.Org
	certifiers          map[*local.Org]*identity.Identity
	logs                *syncbuf.Buffer
	dir                 string
}

func startCertified(t *testing.T, suspend int) *certifiedNet {
	t.Helper()
	if testing.Short() {
		t.Skip("a consortium and WebAssembly modules")
	}
	n := &certifiedNet{logs: &syncbuf.Buffer{}, dir: t.TempDir(), certifiers: map[*local.Org]*identity.Identity{}}
	log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := local.Start(filepath.Join(n.dir, "net"), 3, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			os.WriteFile(filepath.Join(os.TempDir(), "dcmb-certified-test.log"), n.logs.Bytes(), 0o644)
		}
	})
	n.c, n.owner, n.maker, n.third = c, c.Orgs[0], c.Orgs[1], c.Orgs[2]
	ctx := context.Background()
	for _, o := range []*local.Org{n.maker, n.third} {
		id, _, err := o.Enroll(ctx, "certifier", identity.RoleCertifier)
		if err != nil {
			t.Fatal(err)
		}
		n.certifiers[o] = id
	}
	pol := certify.Policy{Epoch: 1, Certifiers: []string{n.maker.Name, n.third.Name}, Threshold: 2, Suspend: suspend, VoteBlocks: 1000, ValidBlocks: 1_000_000}
	for _, o := range []*local.Org{n.owner, n.maker} {
		if _, err := o.Call(ctx, o.Admin, certify.Name, "set_policy", pol); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// certify proposes d for the maintenance purpose as the owner's admin and
// has both certifiers approve it.
func (n *certifiedNet) certify(t *testing.T, d manifest.Descriptor) *manifest.Proposal {
	t.Helper()
	ctx := context.Background()
	p := &manifest.Proposal{Descriptor: d, Channel: "default", Purpose: "maintenance"}
	if _, err := n.owner.Call(ctx, n.owner.Admin, certify.Name, "propose", p); err != nil {
		t.Fatal(err)
	}
	id := p.ID()
	log, tests := sha256.Sum256([]byte("log")), sha256.Sum256([]byte("tests"))
	for o, cert := range n.certifiers {
		v := manifest.Vote{Channel: "default", Proposal: id[:], Name: d.Name, Version: d.Version, Build: manifest.BuildReproduced,
			Rebuilt: d.Module, Validation: manifest.ValidationPassed, Log: log[:], Tests: tests[:]}
		if _, err := o.Call(ctx, cert, certify.Name, "vote", v); err != nil {
			t.Fatal(err)
		}
	}
	// the owner's node starts streams: it must have applied the last vote
	testutil.WaitFor(t, d.Name+" certified on the owner's node", 10*time.Second, func() bool {
		m, err := apiclient.Query[certify.Module](ctx, n.owner.API, "default", certify.Name, "module", certify.ModuleQuery{Name: d.Name, Version: d.Version})
		return err == nil && m.State == certify.StateCertified
	})
	return p
}

// goModule builds the maintenance module's source, edited.
func (n *certifiedNet) goModule(t *testing.T, name string, edit func(string) string) (string, manifest.Descriptor) {
	t.Helper()
	dir := filepath.Join(n.dir, name)
	src := filepath.Join(dir, "src")
	if err := modules.WriteSource(src); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		main := filepath.Join(src, "maintenance", "main.go")
		b, _ := os.ReadFile(main)
		os.WriteFile(main, []byte(edit(string(b))), 0o644)
	}
	rt, err := sandbox.New(context.Background(), sandbox.Config{Engine: sandbox.Interpreter})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	d := manifest.Descriptor{Name: name, Version: 1, Outputs: []string{"maintenance"}}
	wasm, err := certifier.Describe(context.Background(), rt, src, modules.Maintenance, dir, &d)
	if err != nil {
		t.Fatal(err)
	}
	return n.write(t, name, wasm), d
}

// tinyModule is a hand-assembled module described as certifiers would see it.
func (n *certifiedNet) tinyModule(t *testing.T, name string, m wasmtest.Module, imports ...string) (string, manifest.Descriptor) {
	wasm := m.Bytes()
	h := sha256.Sum256(wasm)
	src := sha256.Sum256([]byte(name))
	return n.write(t, name, wasm), manifest.Descriptor{Name: name, Version: 1, Source: src[:], Module: h[:], Imports: imports,
		Outputs: []string{"maintenance"}, Recipe: manifest.Recipe{Toolchain: "go1.26.8", Package: "."}}
}

func (n *certifiedNet) write(t *testing.T, name string, wasm []byte) string {
	file := filepath.Join(n.dir, name+".wasm")
	if err := os.WriteFile(file, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func moduleStream(name, receiver, file string) *dcmb.Config {
	return &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: name, Receiver: receiver, Interval: dcmb.Duration{Duration: 200 * time.Millisecond},
		Source: dcmb.SourceConfig{Kind: "stdin"}, Module: &dcmb.ModuleConfig{File: file, Purpose: "maintenance", TimeLimit: dcmb.Duration{Duration: 2 * time.Second},
			Labels: []dcmb.LabelMap{{Output: "maintenance", Condition: "press-7-maintenance", LabelSalt: "fjpd7"}}}}}}
}

func batches(t *testing.T, o *local.Org, stream string) []audit.Batch {
	t.Helper()
	bs, err := apiclient.Query[[]audit.Batch](context.Background(), o.API, "default", audit.Name, "batches", map[string]string{"stream": stream})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// A certified stream end to end: the maintenance module, certified by two
// certifier orgs, processes every batch; each anchor names it and the
// stream's purpose; its label reaches the manufacturer's condition; an
// exported bundle shows the module and its certification offline. One
// certifier's revocation vote, below both thresholds, changes nothing;
// the second revokes it, and the next batch is not processed: the stream
// records it as dropped with the reason and stops, no anchor of the
// module lands after the revocation's block, and the node refuses to start
// the stream again. (The demo, sealnet demo certify, suspends instead.)
func TestCertifiedStream(t *testing.T) {
	n := startCertified(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	file, d := n.goModule(t, "maintenance", nil)
	p := n.certify(t, d)
	if _, err := n.maker.Call(ctx, n.maker.Admin, condition.Name, "register", condition.RegisterArgs{ID: "press-7-maintenance",
		Hash: condition.Hash("Maintenance imminent", []byte("fjpd7")), Importance: "high", Sender: n.owner.Name}); err != nil {
		t.Fatal(err)
	}
	recv := start(t, n.maker, &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "press-7", From: n.owner.Name}}}, nil)
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, n.owner, moduleStream("press-7", n.maker.Name, file), src)
	push := func(from, to int) {
		for i := from; i < to; i++ {
			src.c <- source.Message{Key: "press-7/count", Value: []byte(strconv.Itoa(5290 + i)), Time: time.Now()}
		}
	}

	push(0, 78) // up to the paper's 5367
	testutil.WaitFor(t, "78 messages delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 78 })
	ch, _ := n.maker.Node.Channel("default")
	met := func() int {
		var k int
		ch.App.Results(1, func(r *ledger.TxResult) bool {
			for _, e := range r.Events {
				if e.Type == "condition_met" && e.To == n.maker.Name {
					k++
				}
			}
			return true
		})
		return k
	}
	testutil.WaitFor(t, "the module's label met the condition", 30*time.Second, func() bool { return met() > 0 })
	for _, b := range batches(t, n.owner, "press-7") {
		if b.Dropped != "" || b.Module != fmt.Sprintf("%x", p.Module) {
			t.Fatalf("batch %+v: want anchored with module %x", b, p.Module)
		}
	}
	st, _ := apiclient.Query[audit.Stream](ctx, n.owner.API, "default", audit.Name, "stream", map[string]string{"stream": "press-7"})
	if st.Purpose != "maintenance" {
		t.Fatalf("stream record %+v: want purpose maintenance", st)
	}

	// an auditor checks message 77 (5367) offline: the module that
	// processed its batch, and how that module was certified
	raw, err := n.owner.API.AuditBundle(ctx, "default", "press-7", 77)
	if err != nil {
		t.Fatal(err)
	}
	rep, g := verifyBundle(t, n.owner, raw)
	m := rep.Module
	if m == nil || m.Hash != fmt.Sprintf("%x", p.Module) || m.Purpose != "maintenance" || m.Name != "maintenance" || len(m.Votes) != 2 ||
		m.CertifiedAt >= rep.Height || m.Source != fmt.Sprintf("%x", p.Source) || m.Recipe.Package != "./maintenance" {
		t.Fatalf("bundle's module: %+v (anchor in block %d)", m, rep.Height)
	}
	for _, s := range rep.Steps {
		t.Log(s)
	}
	// a sample of its bytes changed: each is refused
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		alt := bytes.Clone(raw)
		i := rng.IntN(len(raw))
		alt[i] ^= byte(1 << rng.IntN(8))
		if b, err := bundle.Decode(alt); err == nil {
			if _, err := bundle.Verify(b, g); err == nil {
				t.Fatalf("a bundle with byte %d of %d changed verified", i, len(raw))
			}
		}
	}
	// without its votes, or claiming no certification, it is refused
	b, _ := bundle.Decode(raw)
	b.Certification.Votes = b.Certification.Votes[:1]
	if _, err := bundle.Verify(b, g); err == nil || !strings.Contains(err.Error(), "only the last vote certifies") {
		t.Fatalf("one vote of two: %v", err)
	}
	b, _ = bundle.Decode(raw)
	b.Certification = nil
	if again, _ := b.Encode(); again != nil {
		if _, err := bundle.Decode(again); err == nil {
			t.Fatal("a version 2 bundle without its certification decoded")
		}
	}

	// one revocation vote of the two needed: the stream goes on
	revoke := func(o *local.Org) int64 {
		t.Helper()
		rev, err := o.Call(ctx, n.certifiers[o], certify.Name, "revoke",
			certify.RevokeArgs{Name: d.Name, Version: d.Version, Module: d.Module, Reason: "leaks under test"})
		if err != nil {
			t.Fatal(err)
		}
		return rev.Height
	}
	revoke(n.maker)
	push(78, 84)
	testutil.WaitFor(t, "84 messages delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 84 })

	// the second revokes it: in force from the next block
	revoked := revoke(n.third)
	push(84, 90)
	var dropped audit.Batch
	testutil.WaitFor(t, "the batch after the suspension recorded as dropped", time.Minute, func() bool {
		for _, b := range batches(t, n.owner, "press-7") {
			if b.Dropped != "" {
				dropped = b
				return true
			}
		}
		return false
	})
	want := fmt.Sprintf("module not certified: maintenance@1 is revoked since block %d", revoked+1)
	if dropped.Dropped != want {
		t.Fatalf("drop reason %q, want %q", dropped.Dropped, want)
	}
	time.Sleep(time.Second) // what the halted stream would have anchored by now
	for _, b := range batches(t, n.owner, "press-7") {
		if b.Dropped == "" && b.Height > revoked {
			t.Fatalf("batch %d-%d anchored in block %d, after the revocation in block %d", b.FirstSeq, b.FirstSeq+b.Count-1, b.Height, revoked)
		}
	}
	if send.rt.Stats.Collected.Load() == 0 || !strings.Contains(string(n.logs.Bytes()), "the stream stops reading") {
		t.Fatal("the stream did not halt")
	}

	// a restart is refused while the module is not certified
	send.halt(t)
	_, err = n.owner.Daemon.StartDCMB(moduleStream("press-7", n.maker.Name, file), nil)
	if !errors.Is(err, dcmb.ErrNotCertified) || !strings.Contains(err.Error(), "revoked since block") {
		t.Fatalf("restart: %v", err)
	}
}

// Whatever would make a stream run uncertified code is refused before it
// starts, each with its own reason; a module that fails on one batch has
// that batch recorded as dropped, and the stream goes on.
func TestCertifiedStreamRefusals(t *testing.T) {
	n := startCertified(t, 1)
	good, gd := n.goModule(t, "maintenance", nil)
	n.certify(t, gd)
	// certified though they should not have been: the node still refuses
	trap, td := n.tinyModule(t, "traps", wasmtest.Module{Start: wasmtest.Trap})
	n.certify(t, td)
	loop, ld := n.tinyModule(t, "loops", wasmtest.Module{Start: wasmtest.Loop})
	n.certify(t, ld)
	big, bd := n.tinyModule(t, "big", wasmtest.Module{Pages: 32, Start: wasmtest.Nop})
	n.certify(t, bd)
	imports, id := n.tinyModule(t, "imports", wasmtest.Writing(module.AppendResponse(nil, nil))) // fd_write, not declared
	n.certify(t, id)
	leak, xd := n.goModule(t, "leaks", func(s string) string {
		return strings.Replace(s, "b.Emit(output, label)", `b.Emit(output, label)
		b.Emit("raw", string(m.Value))`, 1)
	})
	n.certify(t, xd)
	never, _ := n.tinyModule(t, "never", wasmtest.Module{Pages: 3, Start: wasmtest.Nop})
	boom, bmd := n.goModule(t, "boom", func(s string) string {
		return strings.Replace(s, "m := b.Message()", `m := b.Message()
		if string(m.Value) == "boom" {
			panic("boom")
		}`, 1)
	})
	n.certify(t, bmd)

	for _, c := range []struct {
		name   string
		file   string
		modify func(*dcmb.ModuleConfig)
		want   error
		reason string
	}{
		{"bytes other than the pinned hash", good, func(m *dcmb.ModuleConfig) { m.Hash = strings.Repeat("ab", 32) }, module.ErrHashMismatch, "the configuration names abab"},
		{"never proposed", never, nil, dcmb.ErrNotCertified, "never proposed on this channel"},
		{"certified for another purpose", good, func(m *dcmb.ModuleConfig) { m.Purpose = "quality" }, dcmb.ErrNotCertified, "proposed only as maintenance@1 for maintenance"},
		{"an import its certification does not allow", imports, nil, module.ErrImport, "imports wasi_snapshot_preview1.fd_write"},
		{"a trap", trap, nil, sandbox.ErrTrap, "program trapped"},
		{"past its time", loop, func(m *dcmb.ModuleConfig) { m.TimeLimit.Duration = 300 * time.Millisecond }, sandbox.ErrTimeLimit, "time limit"},
		{"past its memory", big, func(m *dcmb.ModuleConfig) { m.MemoryBytes = 1 << 20 }, sandbox.ErrMemoryLimit, "memory limit"},
		{"a label output it does not declare", good, func(m *dcmb.ModuleConfig) { m.Labels[0].Output = "raw" }, nil, `label output "raw" is not among the outputs`},
	} {
		cfg := moduleStream("s-"+strings.ReplaceAll(c.name, " ", "-"), n.maker.Name, c.file)
		if c.modify != nil {
			c.modify(cfg.Streams[0].Module)
		}
		_, err := n.owner.Daemon.StartDCMB(cfg, nil)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: %v, want %v (%q)", c.name, err, c.want, c.reason)
		}
	}

	// per batch: an undeclared output, a trap on one value
	for _, c := range []struct {
		file, reason string
	}{
		{leak, "module leaks@1: output not declared"},
		{boom, "module boom@1: program exited with an error"},
	} {
		name := "per-batch-" + filepath.Base(c.file)
		src := &chanSource{c: make(chan source.Message)}
		send := start(t, n.owner, moduleStream(name, n.maker.Name, c.file), src)
		src.c <- source.Message{Key: "k", Value: []byte("boom"), Time: time.Now()}
		src.c <- source.Message{Key: "k", Value: []byte("5367"), Time: time.Now()}
		var dropped string
		testutil.WaitFor(t, "the refused batch recorded as dropped", 30*time.Second, func() bool {
			for _, b := range batches(t, n.owner, name) {
				dropped = b.Dropped
				if dropped != "" {
					return true
				}
			}
			return false
		})
		if dropped != c.reason {
			t.Errorf("%s: drop reason %q, want %q", name, dropped, c.reason)
		}
		if c.file == boom { // the stream goes on
			time.Sleep(300 * time.Millisecond)
			src.c <- source.Message{Key: "k", Value: []byte("5367"), Time: time.Now()}
			testutil.WaitFor(t, "the next batch anchored", 30*time.Second, func() bool {
				bs := batches(t, n.owner, name)
				last := bs[len(bs)-1]
				return last.Dropped == "" && last.Module == fmt.Sprintf("%x", bmd.Module)
			})
		}
		send.halt(t)
	}
}
