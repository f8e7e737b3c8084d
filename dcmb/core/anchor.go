package core

// This file holds the Sender's anchoring: each spooled batch, in sequence
// order, becomes one audit.anchor transaction, and each drop marker one
// audit.drop; a failed submission is retried with a growing backoff, and
// a rejected one checked against the chain, since an earlier try may
// have committed unseen.

import (
	"log/slog"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/txerr"
)

const (
	anchorBackoff    = time.Second
	maxAnchorBackoff = 30 * time.Second
)

// Anchor asks for Tx to be submitted: the anchor of a spooled batch, or
// the record of a drop marker's range. Batch is the batch without its
// messages. Answer with Anchored.
type Anchor struct {
	Batch *wire.Batch
	Tx    Tx
}

// Anchored answers Anchor: the block Height of its transaction, or Err;
// after an error, Record is the chain's record of the range (nil: none),
// and on a certified stream Uncertified says why the module is no longer
// certified, if that is so (the chain refused the anchor for it).
type Anchored struct {
	First       uint64
	Height      int64
	Err         error
	Record      *audit.Batch
	Uncertified string
}

func (Anchor) action()  {}
func (Anchored) event() {}

type anchorState struct {
	busy    bool
	retryAt int64 // Unix ns; 0: no retry pending
	backoff time.Duration
}

// anchorTx is the transaction that anchors b, or records its drop.
func (s *Sender) anchorTx(b *wire.Batch) Tx {
	if b.Dropped != "" {
		return Tx{Contract: audit.Name, Method: "drop", Args: audit.DropArgs{Stream: b.Stream, FirstSeq: b.FirstSeq, Count: b.Count,
			Reason: b.Dropped, At: b.Created}}
	}
	a := audit.AnchorArgs{Stream: b.Stream, Receiver: s.cfg.Receiver, FirstSeq: b.FirstSeq,
		Count: b.Count, Root: b.Root, Mode: b.Mode, Salt: b.PaperSalt, IntervalStart: b.Start, IntervalEnd: b.End}
	s.moduleArgs(&a)
	return Tx{Contract: audit.Name, Method: "anchor", Args: a}
}

// startAnchor asks for the oldest spooled batch not anchored yet, once
// the stream's module processed it.
func (s *Sender) startAnchor(t int64) {
	if s.anchor.busy || t < s.anchor.retryAt {
		return
	}
	for i := range s.spool {
		if e := &s.spool[i]; !e.anchored {
			if !e.processed {
				return
			}
			s.anchor.busy, s.anchor.retryAt = true, 0
			h := e.head
			s.emit(Anchor{Batch: &h, Tx: s.anchorTx(&h)})
			return
		}
	}
}

// anchored applies an anchoring result. The anchor is not written back
// to the spool: the chain holds it, and a restart reads it from there.
func (s *Sender) anchored(t int64, ev Anchored) {
	s.anchor.busy = false
	i := s.find(ev.First)
	if i < 0 {
		return
	}
	e := &s.spool[i]
	switch {
	case e.head.Dropped != "":
		if ev.Err != nil && !dropRecorded(&e.head, ev.Record) {
			s.anchorFailed(t, ev)
			return
		}
		s.emit(Count{Dropped: e.head.Count})
		s.forget(i, false)
	case ev.Err == nil:
		s.emit(Count{Anchored: e.head.Count, AnchorDelay: time.Duration(t - e.head.End)})
		s.log(slog.LevelDebug, "batch anchored", "first_seq", e.head.FirstSeq, "count", e.head.Count, "height", ev.Height)
		e.anchored = true
		s.submitOutputs(e)
	case txerr.CodeOf(ev.Err) == txerr.Rejected && AnchorMatches(&e.head, ev.Record):
		s.emit(Count{Anchored: e.head.Count})
		s.log(slog.LevelDebug, "batch anchored", "first_seq", e.head.FirstSeq, "count", e.head.Count, "height", ev.Record.Height)
		e.anchored = true
		s.submitOutputs(e)
	case ev.Uncertified != "" && s.cfg.Module != nil:
		// the module lost its certification between the check and the
		// anchor's block: the batch goes as dropped, and so does the rest
		s.dropEntry(i, ev.Uncertified)
		s.halt(t, ev.Uncertified)
		s.anchor.backoff = anchorBackoff
		return
	default:
		s.anchorFailed(t, ev)
		return
	}
	s.anchor.backoff = anchorBackoff
}

func (s *Sender) anchorFailed(t int64, ev Anchored) {
	s.log(slog.LevelError, "anchoring failed, retrying", "first_seq", ev.First, "err", ev.Err)
	s.anchor.retryAt = t + int64(s.anchor.backoff)
	s.anchor.backoff = min(2*s.anchor.backoff, maxAnchorBackoff)
}
