package dcmb_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/internal/syncbuf"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/internal/testutil"
	"github.com/sealnet/sealnet/local"
)

// consortium starts n companies' nodes and collects their logs.
func consortium(t *testing.T, n int) (*local.Consortium, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	c, err := local.Start(t.TempDir(), n, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, logs
}

// peerConn is a hand-driven DCMB delivery stream: the test plays the sender.
type peerConn struct {
	t  *testing.T
	st network.Stream
	r  *bufio.Reader
	w  *bufio.Writer
}

func dial(t *testing.T, from, to *local.Org) *peerConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := from.Node.Share().Host.NewStream(ctx, to.Node.Share().Host.ID(), dcmb.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { st.Close() })
	return &peerConn{t: t, st: st, r: bufio.NewReader(st), w: bufio.NewWriter(st)}
}

func (p *peerConn) send(frames ...any) {
	p.t.Helper()
	for _, f := range frames {
		if err := dcmb.WriteFrame(p.w, dcmb.EncodeFrame(f)); err != nil {
			p.t.Fatal(err)
		}
	}
	if err := p.w.Flush(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peerConn) read() any {
	p.t.Helper()
	raw, err := dcmb.ReadFrame(p.r)
	if err != nil {
		p.t.Fatalf("reading the receiver's answer: %v", err)
	}
	f, err := dcmb.DecodeFrame(raw)
	if err != nil {
		p.t.Fatal(err)
	}
	return f
}

func (p *peerConn) rejected(what, want string) {
	p.t.Helper()
	f := p.read()
	r, ok := f.(*dcmb.Reject)
	if !ok || !strings.Contains(r.Reason, want) {
		p.t.Fatalf("%s: answered %#v, want a rejection saying %q", what, f, want)
	}
}

func (p *peerConn) acked(what string, next uint64) {
	p.t.Helper()
	f := p.read()
	if a, ok := f.(*dcmb.Ack); !ok || a.Next != next {
		p.t.Fatalf("%s: answered %#v, want an ack up to %d", what, f, next)
	}
}

func value(i int) string { return fmt.Sprintf("reading-%d.7731", i) }

func msgs(from, to int) []dcmb.Message {
	var out []dcmb.Message
	for i := from; i < to; i++ {
		out = append(out, dcmb.Message{Seq: uint64(i), Key: "gauge", Value: []byte(value(i))})
	}
	return out
}

// A receiver meets deliveries from the wrong org, channel or stream, with
// the wrong secret, malformed, replayed, forged, miscounted, skipping,
// duplicated: each is rejected with its reason, nothing is stored, and
// the genuine stream then continues where it was.
func TestReceiverRejectsBadDeliveries(t *testing.T) {
	c, logs := consortium(t, 3)
	owner, maker, other := c.Orgs[0], c.Orgs[1], c.Orgs[2]
	out := filepath.Join(t.TempDir(), "out.jsonl")
	rcfg := &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "line-4", From: owner.Name, Output: out}}}
	scfg := &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "line-4", Receiver: maker.Name,
		Interval: dcmb.Duration{Duration: 100 * time.Millisecond}, Source: dcmb.SourceConfig{Kind: "stdin"}}}}
	push := func(src *chanSource, from, to int) {
		for i := from; i < to; i++ {
			src.c <- source.Message{Key: "gauge", Value: []byte(value(i)), Time: time.Now()}
		}
	}

	// a stream to, or from, an org outside the channel does not start
	if _, err := owner.Daemon.StartDCMB(&dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "line-4", Receiver: "org9",
		Source: dcmb.SourceConfig{Kind: "stdin"}}}}, nil); err == nil || !strings.Contains(err.Error(), "receiver org9 is not an organization of channel default") {
		t.Fatalf("a stream to org9: %v", err)
	}
	if _, err := maker.Daemon.StartDCMB(&dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "line-4", From: "org9"}}}, nil); err == nil ||
		!strings.Contains(err.Error(), "sender org9 is not an organization of channel default") {
		t.Fatalf("a stream from org9: %v", err)
	}

	// 10 messages delivered; 6 more anchored while the receiver is away
	recv := start(t, maker, rcfg, nil)
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, owner, scfg, src)
	push(src, 0, 10)
	testutil.WaitFor(t, "10 messages delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 10 })
	recv.halt(t)
	push(src, 10, 16)
	testutil.WaitFor(t, "16 messages anchored", time.Minute, func() bool { return send.rt.Stats.Anchored.Load() == 16 })
	send.halt(t)
	secret := dcmb.SenderSecret(send.rt, "line-4")
	recv = start(t, maker, rcfg, nil)

	batch := func(first uint64) audit.Batch {
		b, err := apiclient.Query[audit.Batch](context.Background(), owner.API, "default", audit.Name, "batch", struct {
			Stream   string `cbor:"stream"`
			FirstSeq uint64 `cbor:"first_seq,omitempty"`
		}{"line-4", first})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b0, b10 := batch(0), batch(10)
	hello := func() *dcmb.Hello {
		return &dcmb.Hello{Channel: "default", Stream: "line-4", Mode: audit.ModeSealed, Deliver: dcmb.DeliverValues, Secret: secret}
	}

	p := dial(t, other, maker)
	p.send(hello())
	p.rejected("another org", "received from org1, not org3")

	p = dial(t, owner, maker)
	h := hello()
	h.Channel = "other"
	p.send(h)
	p.rejected("another channel", "channel default, not other")

	p = dial(t, owner, maker)
	h = hello()
	h.Stream = "line-5"
	p.send(h)
	p.rejected("unknown stream", `not configured to receive stream "line-5"`)

	p = dial(t, owner, maker)
	h = hello()
	h.Secret = make([]byte, 32)
	p.send(h)
	p.rejected("wrong secret", "secret differs")

	p = dial(t, owner, maker)
	p.w.Write([]byte{0, 0, 0, 3, 'H', 0xff, 0xff})
	p.w.Flush()
	p.rejected("malformed hello", "hello: ")

	p = dial(t, owner, maker)
	p.send(hello())
	if w, ok := p.read().(*dcmb.Welcome); !ok || w.Next != 10 {
		t.Fatalf("welcome %#v, want next 10", w)
	}
	// a replay of the first batch is acknowledged again, not stored twice
	p.send(&dcmb.Head{FirstSeq: 0, Count: b0.Count}, &dcmb.Chunk{Msgs: msgs(0, int(b0.Count))})
	p.acked("replayed batch", 10)
	// a forged value does not lead to the anchored root
	forged := msgs(10, 10+int(b10.Count))
	forged[0].Value = []byte("reading-10.7732")
	p.send(&dcmb.Head{FirstSeq: 10, Count: b10.Count}, &dcmb.Chunk{Msgs: forged})
	p.rejected("forged value", "messages do not match the anchored root")
	// a batch with a message more than anchored
	p.send(&dcmb.Head{FirstSeq: 10, Count: b10.Count + 1}, &dcmb.Chunk{Msgs: msgs(10, 11+int(b10.Count))})
	p.rejected("miscounted batch", fmt.Sprintf("%d sealed messages delivered, %d sealed anchored", b10.Count+1, b10.Count))
	// a batch that skips a range the chain does not record as dropped
	p.send(&dcmb.Head{FirstSeq: 11, Count: 1}, &dcmb.Chunk{Msgs: msgs(11, 12)})
	p.rejected("gap", "skips messages 10-10 that the chain does not record as dropped")
	// the genuine batch after all that
	p.send(&dcmb.Head{FirstSeq: 10, Count: b10.Count}, &dcmb.Chunk{Msgs: msgs(10, 10+int(b10.Count))})
	next := 10 + b10.Count
	p.acked("genuine batch", next)
	// a duplicated message ends the connection
	dup := msgs(int(next), int(next)+1)
	p.send(&dcmb.Head{FirstSeq: next, Count: 2}, &dcmb.Chunk{Msgs: append(dup, dup...)})
	p.rejected("duplicated message", fmt.Sprintf("message %d where %d was due (reordered, duplicated or missing)", next, next+1))
	if got := recv.rt.Stats.Received.Load(); got != b10.Count {
		t.Fatalf("the receiver stored %d messages, want %d", got, b10.Count)
	}

	// the genuine sender resumes and everything arrives once, in order
	send = start(t, owner, scfg, &chanSource{c: make(chan source.Message)})
	testutil.WaitFor(t, "the rest delivered", time.Minute, func() bool { return recv.rt.Stats.Received.Load() == 6 })
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 16 {
		t.Fatalf("%d lines in the output, want 16:\n%s", len(lines), raw)
	}
	for i, l := range lines {
		if !strings.Contains(l, fmt.Sprintf(`"seq":%d,`, i)) || !strings.Contains(l, value(i)) {
			t.Fatalf("line %d: %s", i, l)
		}
	}
	if !strings.Contains(string(logs.Bytes()), `msg="delivery rejected"`) {
		t.Fatal("rejections were not logged")
	}
}

// When the receiver stays away, a full spool drops new batches and old
// ones time out; both are recorded on chain with their reason, the sender
// says so in its log, and the receiver, back, skips exactly those ranges:
// every sequence number is either delivered or recorded as given up.
func TestSpoolLimitsAreRecordedOnChain(t *testing.T) {
	c, logs := consortium(t, 2)
	owner, maker := c.Orgs[0], c.Orgs[1]
	src := &chanSource{c: make(chan source.Message)}
	send := start(t, owner, &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "line-4", Receiver: maker.Name,
		Interval: dcmb.Duration{Duration: 100 * time.Millisecond}, SpoolBytes: 200_000,
		SpoolTimeout: dcmb.Duration{Duration: 2 * time.Second}, Source: dcmb.SourceConfig{Kind: "stdin"}}}}, src)
	big := func(i int) source.Message {
		return source.Message{Key: "gauge", Value: []byte(value(i) + strings.Repeat(".", 20_000)), Time: time.Now()}
	}
	// about 100 KB a batch, no receiver: the spool fills after two
	for i := range 30 {
		src.c <- big(i)
		if i%5 == 4 {
			time.Sleep(150 * time.Millisecond)
		}
	}
	chain := func() audit.Stream {
		s, err := apiclient.Query[audit.Stream](context.Background(), owner.API, "default", audit.Name, "stream", map[string]string{"stream": "line-4"})
		if err != nil && !strings.Contains(err.Error(), "no stream") {
			t.Fatal(err)
		}
		return s
	}
	testutil.WaitFor(t, "the spool to time out", time.Minute, func() bool { s := chain(); return s.Next == 30 && s.Undelivered > 0 })
	out := filepath.Join(t.TempDir(), "out.jsonl")
	recv := start(t, maker, &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "line-4", From: owner.Name, Output: out}}}, nil)
	for i := 30; i < 35; i++ {
		src.c <- big(i)
	}
	testutil.WaitFor(t, "the last messages delivered", time.Minute, func() bool { return send.rt.Stats.Delivered.Load() >= 5 })
	s := chain()
	got := recv.rt.Stats.Received.Load()
	if s.Dropped == 0 || s.Undelivered == 0 || s.Next != 35 || got+s.Dropped+s.Undelivered != 35 {
		t.Fatalf("chain %+v, received %d: every message must be delivered or recorded as given up", s, got)
	}
	if d := send.rt.Stats.Dropped.Load(); d != s.Dropped+s.Undelivered {
		t.Fatalf("the sender counts %d dropped, the chain %d", d, s.Dropped+s.Undelivered)
	}
	l := string(logs.Bytes())
	for _, want := range []string{"spool full: dropping a batch, recorded on chain", "batch given up after the spool timeout, recorded on chain",
		"sender dropped a range, recorded on chain"} {
		if !strings.Contains(l, want) {
			t.Fatalf("the log lacks %q", want)
		}
	}
	batches, err := apiclient.Query[[]audit.Batch](context.Background(), owner.API, "default", audit.Name, "batches", map[string]string{"stream": "line-4"})
	if err != nil {
		t.Fatal(err)
	}
	var full, expired bool
	for _, b := range batches {
		full = full || strings.HasPrefix(b.Dropped, "spool full (200000 bytes limit)")
		expired = expired || strings.HasPrefix(b.Undelivered, "spool timeout (2s)")
	}
	if !full || !expired {
		t.Fatalf("the chain's records lack the reasons: %+v", batches)
	}
}
