package core

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/txerr"
)

// t0 is the scenarios' epoch; times print as offsets from it.
var t0 = time.Unix(1_700_000_000, 0)

// senderHarness plays the driver of one Sender: it holds the clock, the
// outstanding requests, and answers them as the script says.
type senderHarness struct {
	s       *Sender
	now     time.Time
	seq     int              // messages read, for their values
	sealing *wire.Batch      // the Seal not answered yet
	anchor  *Anchor          // the Anchor not answered yet
	process *Process         // the Process not answered yet
	deliver Action           // the Connect, Send or GiveUp not answered yet
	spooled map[uint64]int64 // file sizes, as a spool would report
	out     strings.Builder  // the actions of the command being run
}

// The sender's scripts: testdata/sender/*.txt.
//
//	new [stream=S] [receiver=O] [mode=M] [interval=D] [max_batch=N] [spool_bytes=N] [spool_timeout=D] [archive=B] [rule=ABOVE:BELOW] [module]
//	  (input) chain next=N [org=O]; spooled first=N count=N bytes=N [created=D] [anchored] [dropped=REASON] [recorded-dropped]
//	read [n=N] [key=K] [badkey] [value=V] [bytes=N]   messages at the current time
//	advance D                                 the clock moves by D, then a Tick
//	sealed [all] [err=E]                      answers the outstanding Seal (all: and the ones it leads to)
//	processed [labels=N] [other=N] [refused=trapped|...] [halt=revoked|...]   answers the outstanding Process (module: maintenance labels, outputs of another name)
//	anchored [height=N] [err=E] [rejected] [record=match|none|other] [uncertified=suspended|...]
//	welcome next=N | connect-failed err=E | acked next=N
//	send-failed err=E | send-failed rejected=R | send-failed unreadable err=E
//	gaveup [err=E] [record=undelivered|none]
//	stop | state
func TestSenderScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/sender", func(t *testing.T, path string) {
		h := &senderHarness{}
		datadriven.RunTest(t, path, h.run)
	})
}

func (h *senderHarness) run(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd != "new" && h.s == nil {
		d.Fatalf(t, "new first")
	}
	h.out.Reset()
	switch d.Cmd {
	case "new":
		return h.new(t, d)
	case "read":
		n, key, value, size := 1, "counter", "", 0
		d.MaybeScanArgs(t, "n", &n)
		d.MaybeScanArgs(t, "key", &key)
		d.MaybeScanArgs(t, "value", &value)
		d.MaybeScanArgs(t, "bytes", &size)
		if d.HasArg("badkey") {
			key = "\xff"
		}
		for range n {
			v := []byte(value)
			switch {
			case size > 0:
				v = []byte(strings.Repeat("x", size))
			case value == "":
				v = []byte(strconv.Itoa(h.seq))
			}
			h.seq++
			h.step(Read{Key: key, Value: v, Time: h.now.UnixNano()})
		}
	case "advance":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		h.now = h.now.Add(dur)
		h.step(Tick{})
	case "sealed":
		for first := true; first || (d.HasArg("all") && h.sealing != nil); first = false {
			if h.sealing == nil {
				d.Fatalf(t, "no Seal outstanding")
			}
			b := h.sealing
			h.sealing = nil
			ev := Sealed{First: b.FirstSeq, Bytes: b.Bytes()}
			if e := argErr(t, d); e != nil {
				ev.Err, ev.Bytes = e, 0
			}
			if b.Dropped == "" {
				r := sha256.Sum256([]byte(fmt.Sprint(b.FirstSeq, b.Count)))
				b.Root = r[:]
			}
			h.spooled[b.FirstSeq] = ev.Bytes
			h.step(ev)
		}
	case "anchored":
		a := h.anchor
		if a == nil {
			d.Fatalf(t, "no Anchor outstanding")
		}
		h.anchor = nil
		ev := Anchored{First: a.Batch.FirstSeq}
		d.MaybeScanArgs(t, "height", &ev.Height)
		ev.Err = argErr(t, d)
		if d.HasArg("rejected") {
			ev.Err = txerr.New(txerr.Rejected, "range does not continue the stream")
		}
		var why string
		if d.MaybeScanArgs(t, "uncertified", &why) {
			ev.Err = txerr.New(txerr.Rejected, "module is not certified")
			ev.Uncertified = "module not certified: maintenance@1 is " + why + " since block 8"
		}
		if ev.Err != nil {
			ev.Record = record(t, d, a.Batch)
		}
		h.step(ev)
	case "processed":
		p := h.process
		if p == nil {
			d.Fatalf(t, "no Process outstanding")
		}
		h.process = nil
		ev := Processed{First: p.First}
		var labels, other int
		d.MaybeScanArgs(t, "labels", &labels)
		d.MaybeScanArgs(t, "other", &other)
		for i := range labels + other {
			o := ModuleOutput{Seq: p.First + uint64(i), Key: "counter", Name: "maintenance", Text: "Maintenance imminent"}
			if i >= labels {
				o.Name, o.Text = "reduced", "5300-5400"
			}
			ev.Outputs = append(ev.Outputs, o)
		}
		var why string
		if d.MaybeScanArgs(t, "refused", &why) {
			ev.Refused = "module maintenance@1 (120970d812836f19): program " + why
		}
		if d.MaybeScanArgs(t, "halt", &why) {
			ev.Refused, ev.Halt = "module not certified: maintenance@1 is "+why+" since block 9", true
		}
		h.step(ev)
	case "welcome", "acked":
		var next uint64
		d.ScanArgs(t, "next", &next)
		h.answerDelivery(t, d, Connect{}, Send{})
		if d.Cmd == "welcome" {
			h.step(Welcomed{Next: next})
		} else {
			h.step(Acked{Next: next})
		}
	case "connect-failed":
		h.answerDelivery(t, d, Connect{})
		h.step(ConnectFailed{Err: argErr(t, d)})
	case "send-failed":
		send := h.answerDelivery(t, d, Send{}).(Send)
		ev := SendFailed{First: send.First, Err: argErr(t, d), Unreadable: d.HasArg("unreadable")}
		d.MaybeScanArgs(t, "rejected", &ev.Rejected)
		h.step(ev)
	case "gaveup":
		g := h.answerDelivery(t, d, GiveUp{}).(GiveUp)
		ev := GaveUp{First: g.First, Err: argErr(t, d)}
		if ev.Err != nil && d.HasArg("record") {
			var kind string
			d.ScanArgs(t, "record", &kind)
			if kind == "undelivered" {
				ev.Record = &audit.Batch{FirstSeq: g.First, Count: g.Count, Undelivered: "spool timeout"}
			}
		}
		h.step(ev)
	case "stop":
		h.step(Stop{})
	case "state":
		return h.state()
	default:
		d.Fatalf(t, "unknown command %s", d.Cmd)
	}
	return h.out.String()
}

func (h *senderHarness) new(t *testing.T, d *datadriven.TestData) string {
	cfg := SenderConfig{Stream: "press-7", Receiver: "org2", Mode: audit.ModeSealed, Interval: time.Second, MaxBatch: 200_000,
		SpoolBytes: 1 << 30, SpoolTimeout: 24 * time.Hour, Archive: true}
	d.MaybeScanArgs(t, "stream", &cfg.Stream)
	d.MaybeScanArgs(t, "receiver", &cfg.Receiver)
	d.MaybeScanArgs(t, "mode", &cfg.Mode)
	d.MaybeScanArgs(t, "max_batch", &cfg.MaxBatch)
	d.MaybeScanArgs(t, "spool_bytes", &cfg.SpoolBytes)
	d.MaybeScanArgs(t, "archive", &cfg.Archive)
	cfg.Interval = durationArg(t, d, "interval", cfg.Interval)
	cfg.SpoolTimeout = durationArg(t, d, "spool_timeout", cfg.SpoolTimeout)
	if d.HasArg("module") {
		sum := sha256.Sum256([]byte("module"))
		cfg.Module = &ModuleConfig{Hash: sum[:], Purpose: "maintenance",
			Labels: []LabelMap{{Output: "maintenance", Condition: "press-7-maintenance", LabelSalt: "fjpd7"}}}
	}
	for _, a := range d.CmdArgs {
		if a.Key == "rule" {
			lo, _ := strconv.ParseFloat(a.Vals[0], 64)
			hi, _ := strconv.ParseFloat(a.Vals[1], 64)
			cfg.Rules = append(cfg.Rules, Rule{Key: "counter", Above: &lo, Below: &hi, Label: "Maintenance imminent",
				Condition: "press-7-maintenance", LabelSalt: "fjpd7"})
		}
	}
	rec := Recovery{Org: "org1"}
	for _, line := range nonEmpty(d.Input) {
		cmd, args := parseLine(t, d, line)
		switch cmd {
		case "chain":
			rec.Stream = &audit.Stream{Name: cfg.Stream, Org: "org1", Receiver: cfg.Receiver}
			rec.Stream.Next, _ = strconv.ParseUint(args["next"], 10, 64)
			if o, ok := args["org"]; ok {
				rec.Stream.Org = o
			}
		case "spooled":
			var sp Spooled
			sp.Head = wire.Batch{Stream: cfg.Stream, Mode: cfg.Mode, Dropped: args["dropped"]}
			sp.Head.FirstSeq, _ = strconv.ParseUint(args["first"], 10, 64)
			sp.Head.Count, _ = strconv.ParseUint(args["count"], 10, 64)
			sp.Bytes, _ = strconv.ParseInt(args["bytes"], 10, 64)
			if c, ok := args["created"]; ok {
				dur, _ := time.ParseDuration(c)
				sp.Head.Created = t0.Add(dur).UnixNano()
				sp.Head.Start, sp.Head.End = sp.Head.Created, sp.Head.Created
			}
			r := sha256.Sum256([]byte(fmt.Sprint(sp.Head.FirstSeq, sp.Head.Count)))
			if sp.Head.Dropped == "" {
				sp.Head.Root = r[:]
			}
			if _, ok := args["anchored"]; ok {
				sp.Anchor = &audit.Batch{FirstSeq: sp.Head.FirstSeq, Count: sp.Head.Count, Root: fmt.Sprintf("%x", r[:])}
			}
			if _, ok := args["recorded-dropped"]; ok {
				sp.Anchor = &audit.Batch{FirstSeq: sp.Head.FirstSeq, Count: sp.Head.Count, Dropped: "module refused it"}
			}
			rec.Spool = append(rec.Spool, sp)
		default:
			d.Fatalf(t, "unknown input %s", cmd)
		}
	}
	h.now, h.spooled = t0, map[uint64]int64{}
	s, err := NewSender(cfg, rec, h.now)
	if err != nil {
		return "error: " + err.Error()
	}
	h.s = s
	h.ready()
	return h.out.String()
}

func (h *senderHarness) step(ev Event) {
	h.s.Step(h.now, ev)
	h.ready()
}

// answerDelivery takes the outstanding delivery action, which must be of
// one of the given kinds.
func (h *senderHarness) answerDelivery(t *testing.T, d *datadriven.TestData, kinds ...Action) Action {
	a := h.deliver
	for _, k := range kinds {
		if fmt.Sprintf("%T", k) == fmt.Sprintf("%T", a) {
			h.deliver = nil
			return a
		}
	}
	d.Fatalf(t, "%s answers %T, outstanding: %T", d.Cmd, kinds[0], a)
	return nil
}

// ready prints the actions and notes the requests among them.
func (h *senderHarness) ready() {
	out := &h.out
	for _, a := range h.s.Ready() {
		switch a := a.(type) {
		case Seal:
			h.sealing = a.Batch
		case Anchor:
			h.anchor = &a
		case Process:
			h.process = &a
		case Connect, Send, GiveUp:
			h.deliver = a
		}
		out.WriteString(formatAction(h.now, a))
		out.WriteByte('\n')
	}
	h.s.Advance()
}

func (h *senderHarness) state() string {
	s := h.s
	var out strings.Builder
	fmt.Fprintf(&out, "next %d, open %d msgs, backlog %d, spool %d bytes, deadline %s\n", s.next, len(s.cur.Msgs), s.Backlog(),
		s.spoolBytes, at(h.now, s.Deadline().UnixNano()))
	if s.cfg.Module != nil {
		fmt.Fprintf(&out, "module: %d unprocessed\n", s.Unprocessed())
	}
	if s.Halted() != "" {
		fmt.Fprintf(&out, "halted: %s\n", s.Halted())
	}
	for _, e := range s.spool {
		what := "sealed"
		switch {
		case e.head.Dropped != "":
			what = "drop marker"
		case e.anchored:
			what = "anchored"
		case !e.processed:
			what = "sealed, not processed"
		}
		fmt.Fprintf(&out, "  %s, %s\n", span(e.head.FirstSeq, e.head.Count), what)
	}
	return out.String()
}

// record is the chain's record the script names for an anchor that
// failed: match (the batch's anchor, or its drop), none, other.
func record(t *testing.T, d *datadriven.TestData, b *wire.Batch) *audit.Batch {
	kind := "none"
	d.MaybeScanArgs(t, "record", &kind)
	switch kind {
	case "match":
		return &audit.Batch{FirstSeq: b.FirstSeq, Count: b.Count, Root: fmt.Sprintf("%x", b.Root), Dropped: b.Dropped, Height: 42}
	case "other":
		return &audit.Batch{FirstSeq: b.FirstSeq, Count: b.Count + 1, Root: "00", Height: 42}
	}
	return nil
}

func argErr(t *testing.T, d *datadriven.TestData) error {
	var s string
	if d.MaybeScanArgs(t, "err", &s) {
		return errors.New(s)
	}
	return nil
}

func durationArg(t *testing.T, d *datadriven.TestData, key string, def time.Duration) time.Duration {
	var s string
	if !d.MaybeScanArgs(t, key, &s) {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return v
}
