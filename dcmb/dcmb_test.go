package dcmb_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/syncbuf"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/daemon"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/internal/testutil"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/local"
)

// chanSource delivers what the test pushes.
type chanSource struct{ c chan source.Message }

func (s *chanSource) Run(ctx context.Context, out chan<- source.Message) error {
	for {
		select {
		case m := <-s.c:
			select {
			case out <- m:
			case <-ctx.Done():
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

type running struct {
	rt *dcmb.Runtime
	d  *daemon.DCMB
}

func start(t *testing.T, o *local.Org, cfg *dcmb.Config, src source.Source) *running {
	t.Helper()
	var sources map[string]source.Source
	if src != nil {
		sources = map[string]source.Source{cfg.Streams[0].Name: src}
	}
	d, err := o.Daemon.StartDCMB(cfg, sources)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	return &running{rt: d.Runtime, d: d}
}

func (r *running) halt(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.d.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("runtime did not stop")
	}
}

// verifyBundle verifies a bundle against the genesis in o's home, as an
// auditor given that genesis would.
func verifyBundle(t *testing.T, o *local.Org, raw []byte) (*bundle.Report, *types.GenesisDoc) {
	t.Helper()
	g, err := bundle.LoadGenesis(filepath.Join(o.Home.Chain(o.Node.Config().Channels[0], "").Home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bundle.Verify(b, g)
	if err != nil {
		t.Fatal(err)
	}
	return rep, g
}

// The counter values: distinctive strings, so that a scan for them cannot
// hit by chance.
func counter(i int) string { return fmt.Sprintf("%d.25913", 5290+i) }

// Paper 000 end to end on a four-company consortium: the machine owner
// streams its counter to the manufacturer, evidence is anchored per
// interval, the mapped and hashed "Maintenance imminent" triggers the
// manufacturer's condition, the manufacturer's node goes offline while
// the owner's DCMB spools and restarts, and every message arrives once,
// in order, verified; a message is then audited offline, every altered
// byte of its bundle is rejected, and no raw value is on chain or in any
// log.
func TestStreamEndToEnd(t *testing.T) {
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := local.Start(t.TempDir(), 4, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			l := logs.Bytes()
			os.WriteFile(filepath.Join(os.TempDir(), "dcmb-test.log"), l, 0o644)
		}
	})
	owner, maker := c.Orgs[0], c.Orgs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const labelSalt = "fjpd7"
	reg, err := maker.API.Call(ctx, maker.Admin, "default", condition.Name, "register", condition.RegisterArgs{ID: "press-7-maintenance",
		Hash: condition.Hash("Maintenance imminent", []byte(labelSalt)), Importance: "high", Sender: owner.Name})
	if err != nil || reg.Code != 0 {
		t.Fatalf("register: %v %+v", err, reg)
	}

	out := filepath.Join(t.TempDir(), "received.jsonl")
	rcfg := func() *dcmb.Config {
		return &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "press-7", From: owner.Name, Output: out,
			Actions: []dcmb.Action{{Name: "plan a technician visit", Key: "counter", Equals: counter(77)}}}}}
	}
	above, below := 5300.0, 5400.0
	scfg := func() *dcmb.Config {
		return &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "press-7", Receiver: maker.Name,
			Interval: dcmb.Duration{Duration: 200 * time.Millisecond}, Source: dcmb.SourceConfig{Kind: "stdin"},
			Rules: []dcmb.Rule{{Key: "counter", Above: &above, Below: &below, Label: "Maintenance imminent",
				Condition: "press-7-maintenance", LabelSalt: labelSalt}}}}}
	}
	recv := start(t, maker, rcfg(), nil)
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, owner, scfg(), src)
	push := func(from, to int) {
		for i := from; i < to; i++ {
			src.c <- source.Message{Key: "counter", Value: []byte(counter(i)), Time: time.Now()}
		}
	}

	// 1. online: 78 values, up to the paper's 5367
	push(0, 78)
	testutil.WaitFor(t, "78 messages delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 78 })

	// 2. the manufacturer's node goes offline; the owner's DCMB spools and
	// is itself restarted; nothing spooled is lost
	recv.halt(t)
	if err := maker.Stop(); err != nil {
		t.Fatal(err)
	}
	push(78, 128)
	testutil.WaitFor(t, "50 more messages anchored", time.Minute, func() bool { return send.rt.Stats.Anchored.Load() == 128 })
	time.Sleep(300 * time.Millisecond)
	send.halt(t)
	src = &chanSource{c: make(chan source.Message)}
	send = start(t, owner, scfg(), src)
	push(128, 130)
	if err := maker.Start(); err != nil {
		t.Fatal(err)
	}
	recv = start(t, maker, rcfg(), nil)
	testutil.WaitFor(t, "every message delivered after the outage", 2*time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 130-78 })

	// every message once, in order, with its value
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	var n int
	for sc.Scan() {
		var l struct {
			Seq   uint64
			Value string
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Seq != uint64(n) || l.Value != counter(n) {
			t.Fatalf("line %d: seq %d value %s", n, l.Seq, l.Value)
		}
		n++
	}
	f.Close()
	if n != 130 {
		t.Fatalf("%d messages in the output, want 130", n)
	}

	// the condition fired once, for the manufacturer, and the receiver's action on 5367 fired
	ch, _ := maker.Node.Channel("default")
	var met int
	ch.App.Results(1, func(r *ledger.TxResult) bool {
		for _, e := range r.Events {
			if e.Type == "condition_met" && e.To == maker.Name {
				met++
			}
		}
		return true
	})
	if met != 1 {
		t.Fatalf("condition met %d times, want 1", met)
	}
	if !regexp.MustCompile(`msg="action fired" .*action="plan a technician visit" seq=77\n`).Match(logs.Bytes()) {
		t.Fatal("the receiver's action did not fire for message 77")
	}

	// 3. offline audit of message 77 (5367) from the manufacturer's node
	raw, err := maker.API.AuditBundle(ctx, "default", "press-7", 77)
	if err != nil {
		t.Fatal(err)
	}
	rep, g := verifyBundle(t, maker, raw)
	if string(rep.Messages[0].Value) != counter(77) || rep.Messages[0].Seq != 77 {
		t.Fatalf("bundle discloses %+v", rep.Messages)
	}
	// every byte changed three ways: its lowest bit, its highest bit, all bits
	for i := range raw {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			alt := append([]byte(nil), raw...)
			alt[i] ^= flip
			if b, err := bundle.Decode(alt); err == nil {
				if _, err := bundle.Verify(b, g); err == nil {
					t.Fatalf("a bundle with byte %d of %d xored with %#x verified", i, len(raw), flip)
				}
			}
		}
	}

	// 4. no raw value on chain (every block of every node) or in any log
	var secrets [][]byte
	for i := range 130 {
		v := []byte(counter(i))
		secrets = append(secrets, v, []byte(hex.EncodeToString(v)))
	}
	scan := func(where string, b []byte) {
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Fatalf("raw value %s leaked into %s", s, where)
			}
		}
	}
	scan("the logs", logs.Bytes())
	for _, o := range c.Orgs {
		ch, _ := o.Node.Channel("default")
		h, _ := ch.App.Height()
		for i := int64(1); i <= h; i++ {
			blk, err := ch.Block(i)
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range blk.Txs {
				scan(fmt.Sprintf("block %d of %s", i, o.Name), tx)
			}
		}
		ch.App.Results(1, func(r *ledger.TxResult) bool {
			scan("a result", r.Data)
			for _, e := range r.Events {
				for _, a := range e.Attrs {
					scan("an event", []byte(a.Value))
				}
			}
			return true
		})
	}
	if !strings.Contains(string(logs.Bytes()), "receiver unreachable") {
		t.Fatal("the outage was not logged")
	}
}
