package core

// This file holds the Sender: its configuration, its events and actions,
// and how it numbers messages, cuts them into batches per interval and
// decides what is sealed into the spool. Anchoring is in anchor.go,
// delivery and expiry in deliver.go, label rules in rules.go, a certified
// stream's module in module.go.

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// MaxBacklog is the number of cut batches waiting for the sealer (the
// one it seals included) at which the driver stops reading the source.
const MaxBacklog = 4

// SenderConfig is what the Sender needs of a stream's configuration.
type SenderConfig struct {
	Stream       string
	Receiver     string        // the receiving org
	Mode         string        // audit.ModeSealed or audit.ModePaper
	Interval     time.Duration // one batch per interval
	MaxBatch     int           // messages; a fuller interval is split
	SpoolBytes   int64         // bytes of spooled batches, beyond which a new batch is dropped
	SpoolTimeout time.Duration // an anchored batch not acknowledged after this long is given up
	Archive      bool          // acknowledged batches are archived rather than deleted
	Rules        []Rule
	Module       *ModuleConfig // a certified stream's module (nil: uncertified)
}

// Spooled is a batch found in the spool at start.
type Spooled struct {
	Head   wire.Batch   // the batch without its messages
	Bytes  int64        // its file's size
	Anchor *audit.Batch // the chain's record of the range starting at Head.FirstSeq (nil: none)
}

// Recovery is what the driver read at start.
type Recovery struct {
	Org    string        // this node's org
	Stream *audit.Stream // the chain's record of the stream (nil: never anchored)
	Spool  []Spooled     // ascending
	// Reserved is the sequence number below which the sender that ran
	// before may have numbered messages (the driver's durable reservation;
	// 0: none). What it numbered but never sealed was lost with the
	// process: that range is recorded as dropped, and numbering goes on
	// above it, so no number is used twice.
	Reserved uint64
}

// Sender events.
type (
	// Read is a message from the source.
	Read struct {
		Key   string
		Value []byte
		Time  int64 // when the source read it, Unix ns
		// Dropped says why the source could not read what it received
		// (a payload that does not decode): it is recorded as dropped
		Dropped string
	}
	// Tick says time passed; due at Deadline.
	Tick struct{}
	// Stop cuts the open interval; afterwards only sealing goes on.
	Stop struct{}
	// Sealed answers Seal: the batch is in the spool, its file Bytes
	// long, or Err says why it is kept in memory only.
	Sealed struct {
		First uint64
		Bytes int64
		Err   error
	}
)

// Sender actions.
type (
	// Seal asks for the batch's commitment (Root, and a fresh PaperSalt in
	// paper mode) unless it is a drop marker, then for it to be written
	// to the spool.
	Seal struct{ Batch *wire.Batch }
	// Forget removes a batch from the spool: into the archive, or deleted.
	Forget struct {
		First   uint64
		Archive bool
	}
)

func (Read) event()    {}
func (Tick) event()    {}
func (Stop) event()    {}
func (Sealed) event()  {}
func (Seal) action()   {}
func (Forget) action() {}

// entry is what the Sender keeps of a spooled batch.
type entry struct {
	head      wire.Batch // without messages
	bytes     int64
	anchored  bool
	processed bool           // by the stream's module (always, without one, and for drop markers)
	outputs   []ModuleOutput // the module's, submitted once the batch is anchored
}

// Sender is one stream's sending pipeline without its I/O.
type Sender struct {
	cfg SenderConfig

	next    uint64      // the next sequence number
	cur     *wire.Batch // the open interval
	lastLen int         // messages of the last batch cut
	nextCut int64       // when the open interval ends, Unix ns
	queue   []*wire.Batch
	sealing bool
	stopped bool

	processing  bool   // a Process is outstanding
	unprocessed int    // spooled batches the module has not processed
	halted      string // why the module stopped the stream

	spool      []entry // ascending
	spoolBytes int64

	anchor anchorState
	deliv  deliverState
	armed  map[string]bool

	acts []Action
}

// NewSender recovers a stream's sender from the spool and the chain.
func NewSender(cfg SenderConfig, rec Recovery, now time.Time) (*Sender, error) {
	s := &Sender{cfg: cfg, armed: map[string]bool{}}
	s.anchor.backoff = anchorBackoff
	s.deliv.backoff = deliverBackoff
	s.deliv.reachable = true
	if st := rec.Stream; st != nil {
		if st.Org != rec.Org {
			return nil, fmt.Errorf("stream %s is anchored by org %s on this channel: choose another name", cfg.Stream, st.Org)
		}
		s.next = st.Next
	}
	for _, sp := range rec.Spool {
		h := sp.Head
		h.Msgs, h.Leaves = nil, nil
		s.next = max(s.next, h.FirstSeq+h.Count)
		if h.Dropped == "" && sp.Anchor != nil && sp.Anchor.Dropped != "" && sp.Anchor.Count == h.Count {
			// a batch the module refused, recorded as dropped before its file went
			s.emit(Forget{First: h.FirstSeq})
			continue
		}
		e := entry{head: h, bytes: sp.Bytes, anchored: AnchorMatches(&h, sp.Anchor)}
		// a batch not anchored yet is processed (again) by the module
		// configured now: that is the module its anchor will name
		e.processed = cfg.Module == nil || h.Dropped != "" || e.anchored
		s.addEntry(e)
	}
	if len(s.spool) > 0 {
		s.log(slog.LevelInfo, "spool recovered", "batches", len(s.spool), "bytes", s.spoolBytes, "next_seq", s.next)
	}
	t := now.UnixNano()
	if rec.Reserved > s.next {
		reason := fmt.Sprintf("sender stopped without sealing: numbers %d-%d may have been given to messages lost with it", s.next, rec.Reserved-1)
		s.log(slog.LevelWarn, "messages lost in a crash: their range is recorded on chain as dropped", "first_seq", s.next, "count", rec.Reserved-s.next)
		s.enqueue(&wire.Batch{Stream: cfg.Stream, Mode: cfg.Mode, FirstSeq: s.next, Count: rec.Reserved - s.next, Start: t, End: t, Dropped: reason})
		s.next = rec.Reserved
	}
	s.cur = s.newBatch(t)
	s.nextCut = t + int64(cfg.Interval)
	s.pump(t)
	return s, nil
}

// Step applies one event at time now.
func (s *Sender) Step(now time.Time, ev Event) {
	t := now.UnixNano()
	switch ev := ev.(type) {
	case Read:
		s.ReadMessage(now, ev)
		return
	case Tick:
		s.tick(t)
	case Stop:
		s.cut(t)
		s.stopped = true
	case Sealed:
		s.sealed(ev)
	case Processed:
		s.processed(t, ev)
	case Anchored:
		s.anchored(t, ev)
	case Welcomed, ConnectFailed, Acked, SendFailed, GaveUp:
		s.delivered(t, ev)
	default:
		panic(fmt.Sprintf("dcmb/core: the sender takes no %T", ev))
	}
	s.pump(t)
}

// ReadMessage is Step(now, m) without boxing m, for the path every
// message takes. A message starts nothing but the sealing of what it cut;
// retries fall due at Deadline.
func (s *Sender) ReadMessage(now time.Time, m Read) {
	t := now.UnixNano()
	s.read(t, m)
	s.seal(t)
}

// HasReady reports whether actions wait.
func (s *Sender) HasReady() bool { return len(s.acts) > 0 }

// Ready returns the actions since the last Advance, in order. The slice
// is valid until Advance.
func (s *Sender) Ready() []Action { return s.acts }

// Advance forgets the actions Ready returned.
func (s *Sender) Advance() {
	clear(s.acts)
	s.acts = s.acts[:0]
}

// Backlog is the number of cut batches the sealer has not answered yet.
func (s *Sender) Backlog() int { return len(s.queue) }

// Next is the next sequence number the sender will assign.
func (s *Sender) Next() uint64 { return s.next }

// Deadline is when the Sender must be ticked next: the open interval's
// end, or a retry or spool timeout falling due before it.
func (s *Sender) Deadline() time.Time {
	d := s.nextCut
	if s.stopped {
		return time.Unix(0, d)
	}
	if a := s.anchor; !a.busy && a.retryAt > 0 {
		d = min(d, a.retryAt)
	}
	if s.deliv.op == opNone {
		if s.deliv.retryAt > 0 {
			d = min(d, s.deliv.retryAt)
		}
		for _, e := range s.spool {
			if e.anchored {
				d = min(d, max(e.head.Created+int64(s.cfg.SpoolTimeout)+1, s.deliv.expireHold, s.deliv.retryAt))
				break
			}
		}
	}
	return time.Unix(0, d)
}

func (s *Sender) emit(a Action) { s.acts = append(s.acts, a) }

func (s *Sender) log(level slog.Level, msg string, attrs ...any) { s.emit(logf(level, msg, attrs...)) }

// newBatch opens the next interval, with room for as many messages as
// the last one held.
func (s *Sender) newBatch(t int64) *wire.Batch {
	return &wire.Batch{Stream: s.cfg.Stream, Mode: s.cfg.Mode, FirstSeq: s.next, Start: t, Msgs: make([]wire.Message, 0, s.lastLen)}
}

// read numbers a message into the open interval, or records a message
// the wire cannot carry as dropped under its own sequence number.
func (s *Sender) read(t int64, m Read) {
	if t >= s.nextCut {
		s.tick(t)
	}
	reason := m.Dropped
	if reason == "" {
		reason = Unfit(m.Key, m.Value)
	}
	if reason != "" {
		s.cut(t)
		s.log(slog.LevelWarn, "message cannot be carried: recorded on chain as dropped", "seq", s.next, "reason", reason)
		s.enqueue(&wire.Batch{Stream: s.cfg.Stream, Mode: s.cfg.Mode, FirstSeq: s.next, Count: 1, Start: t, End: t, Dropped: reason})
		s.next++
		s.cur = s.newBatch(t)
		return
	}
	s.cur.Msgs = append(s.cur.Msgs, wire.Message{Seq: s.next, Key: m.Key, Value: m.Value, Time: m.Time})
	s.next++
	s.applyRules(m.Key, m.Value)
	if len(s.cur.Msgs) >= s.cfg.MaxBatch {
		s.cut(t)
	}
}

// tick cuts the open interval at its end. Interval ends fall on a fixed
// grid from the start, as a ticker's would; ends missed while the driver
// was busy are skipped.
func (s *Sender) tick(t int64) {
	if t < s.nextCut {
		return
	}
	s.cut(t)
	for s.nextCut <= t {
		s.nextCut += int64(s.cfg.Interval)
	}
}

// cut closes the open batch if it holds messages and opens the next.
func (s *Sender) cut(t int64) {
	if len(s.cur.Msgs) > 0 {
		s.lastLen = len(s.cur.Msgs)
		s.cur.End = t
		s.cur.Count = uint64(len(s.cur.Msgs))
		s.enqueue(s.cur)
	}
	s.cur = s.newBatch(t)
}

func (s *Sender) enqueue(b *wire.Batch) { s.queue = append(s.queue, b) }

// seal hands the oldest cut batch to the sealer, turned into a drop
// marker when it does not fit in the spool.
func (s *Sender) seal(t int64) {
	if s.sealing || len(s.queue) == 0 {
		return
	}
	b := s.queue[0]
	b.Created = t
	if b.Dropped == "" && s.halted != "" {
		b = &wire.Batch{Stream: b.Stream, Mode: b.Mode, FirstSeq: b.FirstSeq, Count: b.Count, Start: b.Start, End: b.End,
			Created: b.Created, Dropped: s.halted}
		s.queue[0] = b
	}
	if b.Dropped == "" && s.spoolBytes+b.Bytes() > s.cfg.SpoolBytes {
		s.log(slog.LevelWarn, "spool full: dropping a batch, recorded on chain", "first_seq", b.FirstSeq, "count", b.Count)
		b = &wire.Batch{Stream: b.Stream, Mode: b.Mode, FirstSeq: b.FirstSeq, Count: b.Count, Start: b.Start, End: b.End,
			Created: b.Created, Dropped: fmt.Sprintf("spool full (%d bytes limit)", s.cfg.SpoolBytes)}
		s.queue[0] = b
	}
	s.sealing = true
	s.emit(Seal{Batch: b})
}

// sealed records the spooled batch; its messages stay with the driver.
func (s *Sender) sealed(ev Sealed) {
	if !s.sealing || len(s.queue) == 0 || s.queue[0].FirstSeq != ev.First {
		panic(fmt.Sprintf("dcmb/core: sealed %d, which was not being sealed", ev.First))
	}
	b := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	s.sealing = false
	if ev.Err != nil {
		s.log(slog.LevelError, "spool write failed; batch kept in memory only", "first_seq", b.FirstSeq, "err", ev.Err)
	}
	h := *b
	h.Msgs, h.Leaves = nil, nil
	s.addEntry(entry{head: h, bytes: ev.Bytes, processed: s.cfg.Module == nil || h.Dropped != ""})
}

// forget drops the spool's entry at i and asks for its file to go.
func (s *Sender) forget(i int, delivered bool) {
	e := s.spool[i]
	s.spool = append(s.spool[:i], s.spool[i+1:]...)
	s.spoolBytes -= e.bytes
	s.emit(Forget{First: e.head.FirstSeq, Archive: delivered && s.cfg.Archive})
}

func (s *Sender) find(first uint64) int {
	for i := range s.spool {
		if s.spool[i].head.FirstSeq == first {
			return i
		}
	}
	return -1
}

// pump starts what can start now.
func (s *Sender) pump(t int64) {
	s.seal(t)
	if s.stopped {
		return
	}
	s.startProcess()
	s.startAnchor(t)
	s.startDelivery(t)
}
