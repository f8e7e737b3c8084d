package dcmb

// This file holds the workers that perform a Sender's actions, each in
// its own goroutine so that sealing, anchoring and delivering overlap:
// the sealer (commitments and spool writes), a certified stream's module
// runner (certified.go), the anchorer (anchor and drop transactions), the
// deliverer (the connection to the receiver, give-ups and spool removals,
// in order) and the label submitter.

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/core"
)

// workers are a sender's action performers.
type workers struct {
	seal    *mailbox[core.Seal]
	process *mailbox[core.Process]
	anchor  *mailbox[core.Anchor]
	deliver *mailbox[core.Action]
	labels  chan core.SubmitLabel

	sealStop context.CancelFunc
	wg       sync.WaitGroup
}

// startWorkers starts the workers; they report to events. The sealer
// outlives ctx until stop, so that the open interval is spooled.
func (s *sender) startWorkers(ctx context.Context, events chan<- core.Event) *workers {
	w := &workers{seal: newMailbox[core.Seal](), process: newMailbox[core.Process](), anchor: newMailbox[core.Anchor](),
		deliver: newMailbox[core.Action](), labels: make(chan core.SubmitLabel, 1024)}
	sealCtx, sealStop := context.WithCancel(context.Background())
	w.sealStop = sealStop
	report := func(ev core.Event) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	w.wg.Go(func() {
		for a, ok := w.seal.take(sealCtx); ok; a, ok = w.seal.take(sealCtx) {
			events <- s.seal(a.Batch)
		}
	})
	w.wg.Go(func() {
		for a, ok := w.process.take(ctx); ok; a, ok = w.process.take(ctx) {
			if ev, ok := s.process(ctx, a); ok {
				report(ev)
			}
		}
	})
	w.wg.Go(func() {
		for a, ok := w.anchor.take(ctx); ok; a, ok = w.anchor.take(ctx) {
			if ev, ok := s.anchor(ctx, a); ok {
				report(ev)
			}
		}
	})
	w.wg.Go(func() {
		var l *link
		for a, ok := w.deliver.take(ctx); ok; a, ok = w.deliver.take(ctx) {
			if ev := s.deliver(ctx, &l, a); ev != nil {
				report(ev)
			}
		}
		if l != nil {
			l.close()
		}
		for _, a := range w.deliver.drain() { // what the spool still has to forget
			if f, ok := a.(core.Forget); ok {
				s.forget(f)
			}
		}
	})
	w.wg.Go(func() {
		for {
			select {
			case a := <-w.labels:
				s.submitLabel(ctx, a)
			case <-ctx.Done():
				return
			}
		}
	})
	return w
}

// stop ends the workers once the sealer has nothing left.
func (w *workers) stop() {
	w.sealStop()
	w.wg.Wait()
}

// seal computes a batch's commitment, unless it is a drop marker, and
// spools it; a batch the spool refuses is kept in memory.
func (s *sender) seal(b *Batch) core.Event {
	if b.Dropped == "" {
		if b.Mode == audit.ModePaper {
			b.PaperSalt = make([]byte, 32)
			rand.Read(b.PaperSalt)
		}
		b.Root = b.ComputeRoot(s.secret)
	}
	err := s.spool.Put(b)
	if err != nil {
		s.mu.Lock()
		s.mem[b.FirstSeq] = b
		s.mu.Unlock()
	}
	s.keepFresh(b)
	return core.Sealed{First: b.FirstSeq, Bytes: s.spool.Size(b.FirstSeq), Err: err}
}

// anchor submits an anchor or drop; after a failure it reads the chain's
// record of the range, since an earlier try may have committed.
func (s *sender) anchor(ctx context.Context, a core.Anchor) (core.Anchored, bool) {
	ev := core.Anchored{First: a.Batch.FirstSeq}
	res, err := s.r.submit(ctx, a.Tx)
	if ctx.Err() != nil {
		return ev, false
	}
	if err != nil {
		ev.Err = err
		ev.Record, _ = s.r.chain.Batch(a.Batch.Stream, a.Batch.FirstSeq)
		ev.Uncertified = s.uncertified(err)
		return ev, true
	}
	ev.Height = res.Height
	return ev, true
}

// deliver performs one delivery action on the connection *l.
func (s *sender) deliver(ctx context.Context, l **link, a core.Action) core.Event {
	switch a := a.(type) {
	case core.Connect:
		nl, next, err := s.connect(ctx)
		if err != nil {
			return core.ConnectFailed{Err: err}
		}
		*l = nl
		return core.Welcomed{Next: next}
	case core.Send:
		b, err := s.load(a.First)
		if err != nil {
			return core.SendFailed{First: a.First, Err: err, Unreadable: true}
		}
		if *l == nil {
			return core.SendFailed{First: a.First, Err: errors.New("no delivery connection")}
		}
		next, err := (*l).send(b, s)
		if err != nil {
			(*l).close()
			*l = nil
			ev := core.SendFailed{First: a.First, Err: err}
			var rej *rejectError
			if errors.As(err, &rej) {
				ev.Rejected = rej.reason
			}
			return ev
		}
		return core.Acked{Next: next}
	case core.GiveUp:
		ev := core.GaveUp{First: a.First}
		if _, ev.Err = s.r.submit(ctx, a.Tx); ev.Err != nil {
			ev.Record, _ = s.r.chain.Batch(s.cfg.Name, a.First)
		}
		return ev
	case core.Forget:
		s.forget(a)
	}
	return nil
}

// forget moves a batch from the spool to the archive, or deletes it.
func (s *sender) forget(a core.Forget) {
	s.mu.Lock()
	delete(s.mem, a.First)
	delete(s.fresh, a.First) // a batch dropped before its module ran
	s.mu.Unlock()
	var err error
	if a.Archive {
		err = s.spool.MoveTo(a.First, s.arch)
	} else {
		err = s.spool.Remove(a.First)
	}
	if err != nil {
		s.log.Error("spool cleanup", "first_seq", a.First, "err", err)
	}
}

func (s *sender) submitLabel(ctx context.Context, a core.SubmitLabel) {
	res, err := s.r.submit(ctx, a.Tx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("condition submission failed", "condition", a.Condition, "err", err)
		}
		return
	}
	s.log.Info("hashed label submitted", "condition", a.Condition, "tx", res.ID.String()[:16], "height", res.Height)
}

// mailbox is an unbounded queue: putting never blocks the Sender's loop.
type mailbox[T any] struct {
	mu   sync.Mutex
	q    []T
	wake chan struct{}
}

func newMailbox[T any]() *mailbox[T] { return &mailbox[T]{wake: make(chan struct{}, 1)} }

func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	m.q = append(m.q, v)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// take waits for the oldest item; false once ctx ends.
func (m *mailbox[T]) take(ctx context.Context) (T, bool) {
	for ctx.Err() == nil {
		m.mu.Lock()
		if len(m.q) > 0 {
			v := m.q[0]
			var zero T
			m.q[0] = zero
			m.q = m.q[1:]
			m.mu.Unlock()
			return v, true
		}
		m.mu.Unlock()
		select {
		case <-m.wake:
		case <-ctx.Done():
		}
	}
	var zero T
	return zero, false
}

// drain takes whatever is left.
func (m *mailbox[T]) drain() []T {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.q
	m.q = nil
	return q
}
