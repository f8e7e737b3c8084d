package core

// This file holds the Sender's delivery: anchored batches go to the
// receiver oldest first over one connection, opened by a Hello that the
// receiver answers with where to resume; what it acknowledges leaves the
// spool; an anchored batch older than the spool timeout is given up and
// recorded on chain as undelivered. One delivery action is outstanding
// at a time, so a batch is never given up while it is being sent.

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
)

const (
	deliverBackoff    = 500 * time.Millisecond
	maxDeliverBackoff = 10 * time.Second
	// expireRetry is how long a failed record of an undelivered batch
	// waits before the next try.
	expireRetry = time.Second
)

// Delivery actions, one outstanding at a time.
type (
	// Connect asks for a delivery connection to a node of the receiving
	// org: Hello, then its Welcome. Answer Welcomed or ConnectFailed.
	Connect struct{}
	// Send asks for the spooled batch at First to be sent on the
	// connection. Answer Acked or SendFailed.
	Send struct{ First, Count uint64 }
	// GiveUp asks for Tx, the record of an anchored batch as undelivered,
	// to be submitted. Answer GaveUp.
	GiveUp struct {
		First, Count uint64
		Tx           Tx
	}
)

// Delivery events.
type (
	// Welcomed answers Connect: the receiver lacks Next and what follows.
	Welcomed struct{ Next uint64 }
	// ConnectFailed answers Connect: no receiver node took the Hello.
	ConnectFailed struct{ Err error }
	// Acked answers Send: the receiver holds everything below Next.
	Acked struct{ Next uint64 }
	// SendFailed answers Send. Rejected is the receiver's reason if it
	// refused the batch; Unreadable says the spool could not give the
	// batch (the connection stays). Otherwise the connection failed. The
	// driver closes the connection unless Unreadable.
	SendFailed struct {
		First      uint64
		Err        error
		Rejected   string
		Unreadable bool
	}
	// GaveUp answers GiveUp; after an error, Record is the chain's record
	// of the range (nil: none).
	GaveUp struct {
		First  uint64
		Err    error
		Record *audit.Batch
	}
)

func (Connect) action()      {}
func (Send) action()         {}
func (GiveUp) action()       {}
func (Welcomed) event()      {}
func (ConnectFailed) event() {}
func (Acked) event()         {}
func (SendFailed) event()    {}
func (GaveUp) event()        {}

type deliverOp int

const (
	opNone deliverOp = iota
	opConnect
	opSend
	opGiveUp
)

type deliverState struct {
	op         deliverOp
	linked     bool  // a connection is open
	reachable  bool  // as last logged
	retryAt    int64 // nothing is tried before, Unix ns
	expireHold int64 // nothing is given up before, Unix ns
	backoff    time.Duration
}

// startDelivery starts the next delivery action: give up what timed
// out, else connect, else send the oldest batch if it is anchored.
func (s *Sender) startDelivery(t int64) {
	d := &s.deliv
	if d.op != opNone || t < d.retryAt {
		return
	}
	d.retryAt = 0
	if t >= d.expireHold {
		d.expireHold = 0
		limit := t - int64(s.cfg.SpoolTimeout)
		for _, e := range s.spool {
			if e.anchored && e.head.Created < limit {
				reason := fmt.Sprintf("spool timeout (%s)", s.cfg.SpoolTimeout)
				d.op = opGiveUp
				s.emit(GiveUp{First: e.head.FirstSeq, Count: e.head.Count, Tx: Tx{Contract: audit.Name, Method: "drop",
					Args: audit.DropArgs{Stream: s.cfg.Stream, FirstSeq: e.head.FirstSeq, Count: e.head.Count, Reason: reason, At: t}}})
				return
			}
		}
	}
	if len(s.spool) == 0 || !s.spool[0].anchored {
		return
	}
	if !d.linked {
		d.op = opConnect
		s.emit(Connect{})
		return
	}
	d.op = opSend
	s.emit(Send{First: s.spool[0].head.FirstSeq, Count: s.spool[0].head.Count})
}

func (s *Sender) delivered(t int64, ev Event) {
	d := &s.deliv
	d.op = opNone
	switch ev := ev.(type) {
	case Welcomed:
		d.linked = true
		s.setReachable(true, nil)
		d.backoff = deliverBackoff
		s.acked(ev.Next)
	case ConnectFailed:
		s.setReachable(false, ev.Err)
		s.retry(t, true)
	case Acked:
		s.acked(ev.Next)
	case SendFailed:
		switch {
		case ev.Unreadable:
			s.log(slog.LevelError, "spooled batch unreadable", "first_seq", ev.First, "err", ev.Err)
			s.retry(t, false)
			return
		case ev.Rejected != "":
			s.log(slog.LevelWarn, "receiver rejected a batch", "first_seq", ev.First, "reason", ev.Rejected)
		default:
			s.setReachable(false, ev.Err)
		}
		d.linked = false
		s.retry(t, true)
	case GaveUp:
		i := s.find(ev.First)
		if ev.Err != nil && (ev.Record == nil || ev.Record.Undelivered == "") {
			s.log(slog.LevelError, "recording an undelivered batch failed", "first_seq", ev.First, "err", ev.Err)
			d.expireHold = t + int64(expireRetry)
			return
		}
		if i < 0 {
			return
		}
		s.log(slog.LevelWarn, "batch given up after the spool timeout, recorded on chain", "first_seq", ev.First, "count", s.spool[i].head.Count)
		s.emit(Count{Dropped: s.spool[i].head.Count})
		s.forget(i, true)
	}
}

// retry waits out the backoff before the next delivery action, doubling
// it if grow.
func (s *Sender) retry(t int64, grow bool) {
	d := &s.deliv
	d.retryAt = t + int64(d.backoff)
	if grow {
		d.backoff = min(2*d.backoff, maxDeliverBackoff)
	}
}

// acked forgets every anchored batch below next, archiving it.
func (s *Sender) acked(next uint64) {
	for len(s.spool) > 0 && s.spool[0].anchored && s.spool[0].head.FirstSeq+s.spool[0].head.Count <= next {
		s.emit(Count{Delivered: s.spool[0].head.Count})
		s.forget(0, true)
	}
}

// setReachable logs once when the receiver goes away and once when it
// is back.
func (s *Sender) setReachable(ok bool, err error) {
	d := &s.deliv
	switch {
	case d.reachable && !ok:
		s.log(slog.LevelWarn, "receiver unreachable: spooling until it is back", "receiver", s.cfg.Receiver, "err", err)
	case !d.reachable && ok:
		s.log(slog.LevelInfo, "receiver reachable again: delivering the spool", "receiver", s.cfg.Receiver, "spooled_bytes", s.spoolBytes)
	}
	d.reachable = ok
}
