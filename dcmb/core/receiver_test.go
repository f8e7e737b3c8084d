package core

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/evidence"
)

var scenarioSecret = sha256.Sum256([]byte("sealnet scenario: stream secret"))

func scenarioValue(seq uint64) []byte { return []byte(fmt.Sprintf("reading-%d", seq)) }

func scenarioMsgs(first, n uint64) []wire.Message {
	var out []wire.Message
	for seq := first; seq < first+n; seq++ {
		out = append(out, wire.Message{Seq: seq, Key: "gauge", Value: scenarioValue(seq), Time: t0.UnixNano()})
	}
	return out
}

// receiverHarness plays the driver of a Receiver and one Session at a
// time, and the chain and disk behind it: requests are answered from its
// records, or fail as the script says.
type receiverHarness struct {
	r       *Receiver
	sess    *Session
	now     time.Time
	stream  *audit.Stream
	records map[uint64]*audit.Batch
	held    map[string]bool   // streams held by a connection
	mine    string            // the stream the open session holds
	others  map[string]bool   // streams other connections hold
	fail    map[string]string // request kind -> error of its next answer
	out     strings.Builder
}

// The receiver's scripts: testdata/receiver/*.txt.
//
//	receiver [org=O]                          this node (channel default)
//	  (input) inbox S from=O [next=N] [secret=held] [candidate=(NAME,KEY,EQUALS)]
//	chain S org=O receiver=O | anchor first=N count=N [mode=M] | drop first=N count=N reason=R | undelivered first=N count=N reason=R
//	busy S | fail KIND err=E                  another connection holds S; the next KIND request fails
//	                                          (a connection's hold ends when the next one opens)
//	open [peer=O|unknown]                     a new connection
//	hello [channel=C] [stream=S] [mode=M] [deliver=D] [secret=good|wrong|short|none] | hello-error err=E | frame KIND
//	head first=N count=N | chunk first=N n=N [forge] [seqs=(...)] | leaves first=N n=N | eof | read-error err=E
func TestReceiverScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/receiver", func(t *testing.T, path string) {
		h := &receiverHarness{now: t0, records: map[uint64]*audit.Batch{}, held: map[string]bool{}, others: map[string]bool{}, fail: map[string]string{}}
		datadriven.RunTest(t, path, h.run)
	})
}

func (h *receiverHarness) run(t *testing.T, d *datadriven.TestData) string {
	h.out.Reset()
	h.now = h.now.Add(time.Millisecond)
	switch d.Cmd {
	case "receiver":
		org := "org2"
		d.MaybeScanArgs(t, "org", &org)
		h.r = NewReceiver("default", org)
		for _, line := range nonEmpty(d.Input) {
			cmd, args := parseLine(t, d, line)
			if cmd != "inbox" {
				d.Fatalf(t, "unknown input %s", cmd)
			}
			var stream string
			for k := range args {
				if !strings.Contains("from next secret candidate", k) {
					stream = k
				}
			}
			cfg := InboxConfig{Stream: stream, From: args["from"]}
			if c, ok := args["candidate"]; ok {
				p := strings.Split(c, ",")
				cfg.Candidates = append(cfg.Candidates, Candidate{Name: p[0], Key: p[1], Equals: p[2]})
			}
			next, _ := strconv.ParseUint(args["next"], 10, 64)
			var secret []byte
			if args["secret"] == "held" {
				secret = scenarioSecret[:]
			}
			h.r.Add(cfg, next, secret)
		}
		return ""
	case "chain":
		h.stream = &audit.Stream{Name: d.CmdArgs[0].Key, Sender: "node1-fingerprint"}
		d.ScanArgs(t, "org", &h.stream.Org)
		d.ScanArgs(t, "receiver", &h.stream.Receiver)
		return ""
	case "anchor", "drop", "undelivered":
		rec := &audit.Batch{Stream: "press-7", Mode: audit.ModeSealed, TXNumber: "ab12"}
		d.ScanArgs(t, "first", &rec.FirstSeq)
		d.ScanArgs(t, "count", &rec.Count)
		d.MaybeScanArgs(t, "mode", &rec.Mode)
		switch d.Cmd {
		case "anchor":
			b := &wire.Batch{Stream: rec.Stream, Mode: rec.Mode, FirstSeq: rec.FirstSeq, Count: rec.Count, Msgs: scenarioMsgs(rec.FirstSeq, rec.Count)}
			if rec.Mode == audit.ModePaper {
				b.PaperSalt = make([]byte, 16)
				rec.Salt = hex.EncodeToString(b.PaperSalt)
			}
			rec.Root = hex.EncodeToString(b.ComputeRoot(scenarioSecret))
		case "drop":
			d.ScanArgs(t, "reason", &rec.Dropped)
		case "undelivered":
			d.ScanArgs(t, "reason", &rec.Undelivered)
		}
		h.records[rec.FirstSeq] = rec
		return ""
	case "busy":
		h.others[d.CmdArgs[0].Key] = true
		return ""
	case "fail":
		var e string
		d.ScanArgs(t, "err", &e)
		h.fail[d.CmdArgs[0].Key] = e
		return ""
	case "open":
		peer := "org1"
		d.MaybeScanArgs(t, "peer", &peer)
		delete(h.held, h.mine) // the previous connection ended
		h.mine, h.sess = "", h.r.Open()
		h.step(Peer{Org: peer, Known: peer != "unknown"})
	case "hello":
		hl := &wire.Hello{Channel: "default", Stream: "press-7", Mode: audit.ModeSealed, Deliver: wire.DeliverValues}
		d.MaybeScanArgs(t, "channel", &hl.Channel)
		d.MaybeScanArgs(t, "stream", &hl.Stream)
		d.MaybeScanArgs(t, "mode", &hl.Mode)
		d.MaybeScanArgs(t, "deliver", &hl.Deliver)
		secret := "good"
		d.MaybeScanArgs(t, "secret", &secret)
		switch secret {
		case "good":
			hl.Secret = scenarioSecret[:]
		case "wrong":
			hl.Secret = make([]byte, 32)
		case "short":
			hl.Secret = scenarioSecret[:16]
		}
		h.step(Frame{F: hl})
	case "head":
		f := &wire.Head{}
		d.ScanArgs(t, "first", &f.FirstSeq)
		d.ScanArgs(t, "count", &f.Count)
		h.step(Frame{F: f})
	case "chunk", "leaves":
		var first, n uint64
		d.ScanArgs(t, "first", &first)
		d.MaybeScanArgs(t, "n", &n)
		msgs := scenarioMsgs(first, n)
		if arg, ok := d.Arg("seqs"); ok {
			msgs = nil
			for _, v := range arg.Vals {
				seq, _ := strconv.ParseUint(v, 10, 64)
				msgs = append(msgs, scenarioMsgs(seq, 1)...)
			}
		}
		if d.HasArg("forge") {
			msgs[0].Value = append(msgs[0].Value, '2')
		}
		if d.Cmd == "chunk" {
			h.step(Frame{F: &wire.Chunk{Msgs: msgs}})
			break
		}
		b := &wire.Batch{Stream: "press-7", Msgs: msgs}
		f := &wire.Leaves{Leaves: b.LeafHashes(scenarioSecret)}
		for _, m := range msgs {
			f.Keys, f.Times = append(f.Keys, m.Key), append(f.Times, m.Time)
		}
		h.step(Frame{F: f})
	case "frame":
		h.step(Frame{F: &wire.Ack{Next: 1}})
	case "eof":
		h.step(Frame{Err: errors.New("EOF"), End: true})
	case "read-error", "hello-error":
		h.step(Frame{Err: argErr(t, d)})
	default:
		d.Fatalf(t, "unknown command %s", d.Cmd)
	}
	fmt.Fprintf(&h.out, "wait %s\n", [...]string{"peer", "hello", "head", "body", "none", "reply"}[h.sess.Waiting()])
	return h.out.String()
}

// step applies an event, prints the actions, and answers requests until
// none is left.
func (h *receiverHarness) step(ev Event) {
	for ev != nil {
		h.sess.Step(h.now, ev)
		ev = nil
		for _, a := range h.sess.Ready() {
			h.out.WriteString(formatAction(h.now, a))
			h.out.WriteByte('\n')
			if ev = h.answer(a); ev != nil {
				fmt.Fprintf(&h.out, "  -> %s\n", formatAnswer(ev))
			}
		}
		h.sess.Advance()
	}
}

func (h *receiverHarness) failure(kind string) error {
	if e, ok := h.fail[kind]; ok {
		delete(h.fail, kind)
		return errors.New(e)
	}
	return nil
}

// answer is what the harness's chain and disk say to a request.
func (h *receiverHarness) answer(a Action) Event {
	switch a := a.(type) {
	case ReadStream:
		if err := h.failure("read-stream"); err != nil {
			return StreamRecord{Err: err}
		}
		if h.stream == nil || h.stream.Name != a.Stream {
			return StreamRecord{}
		}
		return StreamRecord{Record: h.stream}
	case CheckPeer:
		return PeerChecked{Err: h.failure("check-peer")}
	case Acquire:
		if h.held[a.Stream] || h.others[a.Stream] {
			return Acquired{}
		}
		h.held[a.Stream], h.mine = true, a.Stream
		return Acquired{OK: true}
	case StoreSecret:
		return SecretStored{Err: h.failure("store-secret")}
	case ReadRecord:
		if err := h.failure("read-record"); err != nil {
			return Record{Err: err}
		}
		return Record{Record: h.records[a.First]}
	case SaveNext:
		return Saved{Err: h.failure("save-next")}
	case Store:
		return Stored{Err: h.failure("store")}
	}
	return nil
}

func formatAnswer(ev Event) string {
	errOr := func(err error, ok string) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return ok
	}
	switch ev := ev.(type) {
	case StreamRecord:
		if ev.Record == nil {
			return errOr(ev.Err, "none")
		}
		return fmt.Sprintf("anchored by %s for %s", ev.Record.Org, ev.Record.Receiver)
	case PeerChecked:
		return errOr(ev.Err, "the anchoring node")
	case Acquired:
		if ev.OK {
			return "held"
		}
		return "held by another connection"
	case SecretStored:
		return errOr(ev.Err, "stored")
	case Record:
		r := ev.Record
		switch {
		case r == nil:
			return errOr(ev.Err, "none")
		case r.Dropped != "":
			return fmt.Sprintf("%s dropped: %s", span(r.FirstSeq, r.Count), r.Dropped)
		case r.Undelivered != "":
			return fmt.Sprintf("%s undelivered: %s", span(r.FirstSeq, r.Count), r.Undelivered)
		}
		return fmt.Sprintf("%s anchored, %s", span(r.FirstSeq, r.Count), r.Mode)
	case Saved:
		return errOr(ev.Err, "saved")
	case Stored:
		return errOr(ev.Err, "stored")
	}
	return fmt.Sprintf("%T", ev)
}

// The pure checks the session uses, directly.
func TestVerify(t *testing.T) {
	b := &wire.Batch{Stream: "press-7", Mode: audit.ModeSealed, FirstSeq: 4, Count: 3, Msgs: scenarioMsgs(4, 3)}
	rec := &audit.Batch{FirstSeq: 4, Count: 3, Mode: audit.ModeSealed, Root: hex.EncodeToString(b.ComputeRoot(scenarioSecret)), TXNumber: "ab"}
	leaves, err := Verify(b, rec, nil, scenarioSecret)
	if err != nil || len(leaves) != 3 || hex.EncodeToString(b.Root) != rec.Root {
		t.Fatalf("verify: %v, %d leaves", err, len(leaves))
	}
	var other evidence.StreamSecret
	if _, err := Verify(b, rec, nil, other); !errors.Is(err, wire.ErrRoot) {
		t.Fatalf("another secret: %v", err)
	}
	if end, err := SkipRange(9, 4, 4, &audit.Batch{FirstSeq: 4, Count: 3, Undelivered: "spool timeout (2s)"}, nil); err != nil || end != 7 {
		t.Fatalf("skip an undelivered range: %d %v", end, err)
	}
	if _, err := SkipRange(9, 4, 4, &audit.Batch{FirstSeq: 4, Count: 3, Root: "ab"}, nil); err == nil {
		t.Fatal("skipped an anchored range")
	}
	if got := Match(b, leaves, scenarioSecret, []Candidate{{Name: "hit", Equals: "reading-5"}, {Name: "miss", Key: "other", Equals: "reading-5"}}); len(got) != 1 || got[0] != (Fired{Action: "hit", Seq: 5}) {
		t.Fatalf("match: %+v", got)
	}
}
