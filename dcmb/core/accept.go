package core

// This file holds what a Session does with batches: it assembles one
// from its Head and frames, acknowledges a replay again, skips only the
// ranges the chain records as given up, verifies the batch against the
// anchored root, has it stored, then matches the receiver's candidates.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/evidence"
)

// assembly is the batch being read.
type assembly struct {
	b   *wire.Batch
	seq uint64 // the next message's sequence number
}

// batchFrame takes a Head or a frame of the announced batch. Any fault
// of the frames ends the connection.
func (s *Session) batchFrame(ev Frame) {
	if ev.Err != nil {
		if ev.End && s.want == WaitHead {
			s.want = WaitNone
			return
		}
		s.reject(s.in.next, true, "%v", ev.Err)
		return
	}
	if s.want == WaitHead {
		s.head(ev.F)
		return
	}
	if err := s.body(ev.F); err != nil {
		s.reject(s.in.next, true, "%v", err)
		return
	}
	if b := s.asm.b; uint64(max(len(b.Msgs), len(b.Leaves))) == b.Count {
		s.asm.b = nil
		s.accept(b)
	}
}

func (s *Session) head(f any) {
	h, ok := f.(*wire.Head)
	if !ok {
		s.reject(s.in.next, true, "expected a batch head, got %T", f)
		return
	}
	if h.Count == 0 || h.Count > wire.MaxBatchLen {
		s.reject(s.in.next, true, "batch of %d messages", h.Count)
		return
	}
	b := &wire.Batch{Stream: s.hello.Stream, Mode: s.hello.Mode, FirstSeq: h.FirstSeq, Count: h.Count}
	if s.hello.Deliver != wire.DeliverHashes {
		b.Msgs = make([]wire.Message, 0, min(h.Count, 1<<16))
	}
	s.asm = assembly{b: b, seq: h.FirstSeq}
	s.want = WaitBody
}

// body adds the messages of one frame: leaf hashes with keys and times
// (hash delivery) or messages in sequence.
func (s *Session) body(f any) error {
	b := s.asm.b
	if s.hello.Deliver == wire.DeliverHashes {
		l, ok := f.(*wire.Leaves)
		if !ok {
			return fmt.Errorf("expected leaves of the batch at %d, got %T", b.FirstSeq, f)
		}
		if uint64(len(b.Leaves)+len(l.Leaves)) > b.Count {
			return fmt.Errorf("batch at %d holds more than its %d messages", b.FirstSeq, b.Count)
		}
		b.Leaves = append(b.Leaves, l.Leaves...)
		for i := range l.Leaves {
			b.Msgs = append(b.Msgs, wire.Message{Seq: s.asm.seq, Key: l.Keys[i], Time: l.Times[i]})
			s.asm.seq++
		}
		return nil
	}
	c, ok := f.(*wire.Chunk)
	if !ok {
		return fmt.Errorf("expected messages of the batch at %d, got %T", b.FirstSeq, f)
	}
	for _, m := range c.Msgs {
		if m.Seq != s.asm.seq {
			return fmt.Errorf("message %d where %d was due (reordered, duplicated or missing)", m.Seq, s.asm.seq)
		}
		if uint64(len(b.Msgs)) == b.Count {
			return fmt.Errorf("batch at %d holds more than its %d messages", b.FirstSeq, b.Count)
		}
		b.Msgs = append(b.Msgs, m)
		s.asm.seq++
	}
	return nil
}

// accept takes a whole batch. A refusal goes back to the sender and the
// connection goes on.
func (s *Session) accept(b *wire.Batch) {
	s.want = WaitHead
	in := s.in
	switch {
	case b.FirstSeq+b.Count <= in.next:
		s.emit(Reply{F: &wire.Ack{Next: in.next}}) // delivered before, the ack was lost: acknowledge again
	case b.FirstSeq > in.next:
		s.skipGap(b, in.next)
	default:
		s.anchor(b)
	}
}

// skipGap walks the ranges from at to the batch; each must be on chain
// as dropped or undelivered.
func (s *Session) skipGap(b *wire.Batch, at uint64) {
	s.request(ReadRecord{Stream: b.Stream, First: at}, func(t int64, ev Event) {
		r := ev.(Record)
		end, err := SkipRange(b.FirstSeq, s.in.next, at, r.Record, r.Err)
		if err != nil {
			s.reject(b.FirstSeq, false, "%v", err)
			return
		}
		l := logf(slog.LevelWarn, "sender dropped a range, recorded on chain", "first_seq", at, "count", r.Record.Count,
			"reason", r.Record.Dropped+r.Record.Undelivered)
		l.Stream = b.Stream
		s.emit(l)
		at = end
		switch {
		case at < b.FirstSeq:
			s.skipGap(b, at)
		case at != b.FirstSeq:
			s.reject(b.FirstSeq, false, "batch at %d does not start where a dropped range ends (%d)", b.FirstSeq, at)
		default:
			s.request(SaveNext{Stream: b.Stream, Next: at}, func(t int64, ev Event) {
				if err := ev.(Saved).Err; err != nil {
					s.reject(b.FirstSeq, false, "%v", err)
					return
				}
				s.in.next = at
				s.anchor(b)
			})
		}
	})
}

// SkipRange checks one range of a gap that a batch at to leaves after
// held, the first sequence number not received: rec is the chain's record
// of the range starting at at (or the error reading it), which must
// record it as dropped before anchoring or as undelivered. It returns
// where the range ends.
func SkipRange(to, held, at uint64, rec *audit.Batch, err error) (uint64, error) {
	switch {
	case err != nil:
		return 0, err
	case rec == nil || (rec.Dropped == "" && rec.Undelivered == ""):
		return 0, fmt.Errorf("batch at %d skips messages %d-%d that the chain does not record as dropped", to, held, to-1)
	}
	return at + rec.Count, nil
}

// anchor reads the batch's anchor, verifies the batch against it and
// has it stored.
func (s *Session) anchor(b *wire.Batch) {
	if b.FirstSeq != s.in.next {
		s.reject(b.FirstSeq, false, "batch at %d overlaps what was received (next is %d)", b.FirstSeq, s.in.next)
		return
	}
	s.request(ReadRecord{Stream: b.Stream, First: b.FirstSeq, Wait: true}, func(t int64, ev Event) {
		r := ev.(Record)
		var sec evidence.StreamSecret
		copy(sec[:], s.in.secret)
		leaves, err := Verify(b, r.Record, r.Err, sec)
		if err != nil {
			s.reject(b.FirstSeq, false, "%v", err)
			return
		}
		b.Created = t
		stored := *b
		if b.Leaves != nil {
			stored.Msgs = nil
		}
		next := b.FirstSeq + b.Count
		s.request(Store{Batch: &stored, Next: next}, func(t int64, ev Event) {
			if err := ev.(Stored).Err; err != nil {
				s.reject(b.FirstSeq, false, "%v", err)
				return
			}
			s.in.next = next
			s.emit(Count{Received: b.Count})
			s.emit(Output{Batch: b, Fired: Match(b, leaves, sec, s.in.cfg.Candidates)})
			s.emit(Reply{F: &wire.Ack{Next: next}})
			s.want = WaitHead
		})
	})
}

// Verify checks a delivered batch against the chain's record of its
// range (rec, or the error reading it): anchored, not dropped, the same
// count and mode, and its messages (or leaves) lead to the anchored
// root. It fills in the batch's root, paper salt and interval from the
// record, and returns the leaf hashes in sealed mode.
func Verify(b *wire.Batch, rec *audit.Batch, err error, secret evidence.StreamSecret) ([][]byte, error) {
	switch {
	case err != nil:
		return nil, err
	case rec == nil:
		return nil, fmt.Errorf("batch at %d is not anchored on chain", b.FirstSeq)
	case rec.Dropped != "":
		return nil, fmt.Errorf("batch at %d is recorded as dropped (%s)", b.FirstSeq, rec.Dropped)
	case rec.Count != b.Count || rec.Mode != b.Mode:
		return nil, fmt.Errorf("batch at %d: %d %s messages delivered, %d %s anchored", b.FirstSeq, b.Count, b.Mode, rec.Count, rec.Mode)
	}
	root, _ := hex.DecodeString(rec.Root)
	b.PaperSalt, _ = hex.DecodeString(rec.Salt)
	b.Start, b.End = rec.IntervalStart, rec.IntervalEnd
	var leaves [][]byte
	if b.Mode == audit.ModeSealed {
		leaves = b.LeafHashes(secret)
		b.Root = evidence.RootOf(leaves)
	} else {
		b.Root = b.ComputeRoot(secret)
	}
	if !bytes.Equal(b.Root, root) {
		return nil, fmt.Errorf("batch at %d: %w in tx %s", b.FirstSeq, wire.ErrRoot, rec.TXNumber)
	}
	return leaves, nil
}

// Fired is a candidate a message matched.
type Fired struct {
	Action string
	Seq    uint64
}

// Match tests each message of a verified batch against the candidates
// as Algorithm 2 does: in sealed mode leaf == hash(candidate + salt), so
// that it works on leaf hashes alone; in paper mode the values are
// compared.
func Match(b *wire.Batch, leaves [][]byte, secret evidence.StreamSecret, cands []Candidate) []Fired {
	if len(cands) == 0 {
		return nil
	}
	var out []Fired
	salter, leafer := secret.Salter(b.Stream), evidence.NewLeafer()
	for i, m := range b.Msgs {
		for _, c := range cands {
			if c.Key != "" && c.Key != m.Key {
				continue
			}
			var hit bool
			if b.Mode == audit.ModeSealed {
				hit = bytes.Equal(leaves[i], leafer.Leaf(salter.Salt(m.Seq), m.Seq, m.Key, []byte(c.Equals)))
			} else {
				hit = bytes.Equal(m.Value, []byte(c.Equals))
			}
			if hit {
				out = append(out, Fired{Action: c.Name, Seq: m.Seq})
			}
		}
	}
	return out
}
