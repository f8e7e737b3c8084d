package dcmb

// This file holds the sending driver of one stream: its files, the
// recovery of its core.Sender from the spool and the chain, and the loop
// that feeds the Sender the source's messages, the clock and the
// workers' results, and hands its actions to the workers (sendwork.go).

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/core"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/evidence"
)

// readBurst is how many waiting messages the loop takes before it looks
// at anything else.
const readBurst = 256

// sender is one stream's sending pipeline.
type sender struct {
	r      *Runtime
	cfg    StreamConfig
	log    *slog.Logger
	secret evidence.StreamSecret
	spool  *Dir
	arch   *Dir
	src    source.Source

	prog *module.Program // a certified stream's module

	mu    sync.Mutex
	mem   map[uint64]*Batch // sealed batches the spool refused, kept in memory
	fresh map[uint64]*Batch // sealed batches waiting for the module

	reservedPath string // the durable reservation of sequence numbers
	reserved     uint64 // numbers below it may be given out
}

// reserveStep is how many sequence numbers one durable reservation covers:
// at 50,000 messages a second, one fsync every 2 s.
const reserveStep = 100_000

// loadReserved reads the reservation the sender that ran before left.
func (s *sender) loadReserved() (uint64, error) {
	raw, err := os.ReadFile(s.reservedPath)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(trimNL(raw)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.reservedPath, err)
	}
	return v, nil
}

// reserve makes numbers below upTo available, durably, before any of
// them is given to a message: after a crash, the next start records what
// the reservation covered beyond the spool as dropped (core.Recovery).
func (s *sender) reserve(upTo uint64) error {
	if err := durable.WriteFile(s.reservedPath, []byte(strconv.FormatUint(upTo, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("reserving sequence numbers: %w", err)
	}
	s.reserved = upTo
	return nil
}

func newSender(r *Runtime, cfg StreamConfig) (*sender, error) {
	dir := r.streamDir("send", cfg.Name)
	spool, err := OpenDir(filepath.Join(dir, "spool"))
	if err != nil {
		return nil, err
	}
	arch, err := OpenDir(filepath.Join(dir, "archive"))
	if err != nil {
		return nil, err
	}
	sec, err := readSecret(filepath.Join(dir, "secret"), func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	s := &sender{r: r, cfg: cfg, log: r.log.With("stream", cfg.Name), spool: spool, arch: arch, mem: map[uint64]*Batch{},
		fresh: map[uint64]*Batch{}, reservedPath: filepath.Join(dir, "reserved")}
	copy(s.secret[:], sec)
	if s.src, err = buildSource(cfg, r.dir, s.log); err != nil {
		return nil, err
	}
	if cfg.Module != nil {
		err = s.openModule()
	} else {
		err = s.checkUncertified()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *sender) coreConfig() core.SenderConfig {
	c := s.cfg
	return core.SenderConfig{Stream: c.Name, Receiver: c.Receiver, Mode: c.Mode, Interval: c.Interval.Duration, MaxBatch: c.MaxBatch,
		SpoolBytes: c.SpoolBytes, SpoolTimeout: c.SpoolTimeout.Duration, Archive: *c.Archive, Rules: c.Rules, Module: s.moduleConfig()}
}

// recovery reads what a restarted sender continues from: the chain's
// record of the stream and the spooled batches with their anchors.
func (s *sender) recovery() (core.Recovery, error) {
	st, err := s.r.chain.Stream(s.cfg.Name)
	if err != nil {
		return core.Recovery{}, err
	}
	reserved, err := s.loadReserved()
	if err != nil {
		return core.Recovery{}, err
	}
	rec := core.Recovery{Org: s.r.org, Stream: st, Reserved: reserved}
	for _, first := range s.spool.List() {
		b, err := s.spool.Get(first)
		if err != nil {
			return core.Recovery{}, fmt.Errorf("spool: %w", err)
		}
		h := *b
		h.Msgs, h.Leaves = nil, nil
		var anchor *audit.Batch
		if b.Dropped == "" {
			anchor, _ = s.r.chain.Batch(s.cfg.Name, first) // unreadable: anchored again, which the chain refuses
		}
		rec.Spool = append(rec.Spool, core.Spooled{Head: h, Bytes: s.spool.Size(first), Anchor: anchor})
	}
	return rec, nil
}

// run drives the stream's Sender until ctx ends, then seals the open
// interval into the spool.
func (s *sender) run(ctx context.Context) error {
	rec, err := s.recovery()
	if err != nil {
		return err
	}
	m, err := core.NewSender(s.coreConfig(), rec, time.Now())
	if err != nil {
		return err
	}
	if err := s.reserve(m.Next() + reserveStep); err != nil {
		return err
	}
	in := make(chan source.Message, 8192)
	srcDone := make(chan struct{})
	srcCtx, stopSource := context.WithCancel(ctx) // a halted stream stops its source
	defer stopSource()
	go func() {
		defer close(srcDone)
		if err := s.src.Run(srcCtx, in); err != nil {
			s.log.Error("source stopped", "err", err)
		}
	}()
	events := make(chan core.Event, 16)
	w := s.startWorkers(ctx, events)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var armed time.Time
	rearm := true // the deadline may have moved: messages alone move it only when they cut a batch
	for {
		if m.HasReady() {
			s.dispatch(m, w)
			rearm = true
		}
		if rearm {
			if d := m.Deadline(); !d.Equal(armed) {
				armed = d
				timer.Reset(max(time.Until(d), time.Millisecond))
			}
			rearm = false
		}
		src := in
		if full(m) {
			src = nil
		}
		if m.Halted() != "" {
			src = nil
			stopSource()
		}
		select {
		case msg := <-src:
			now := time.Now() // one reading of the clock for the burst: it lasts microseconds
			if err := s.read(m, now, msg); err != nil {
				return s.halt(m, w, events, err)
			}
		burst:
			for range readBurst {
				if full(m) {
					break
				}
				select {
				case msg = <-in:
					if err := s.read(m, now, msg); err != nil {
						return s.halt(m, w, events, err)
					}
				default:
					break burst
				}
			}
		case ev := <-events:
			m.Step(time.Now(), ev)
			rearm = true
		case <-timer.C:
			armed = time.Time{}
			m.Step(time.Now(), core.Tick{})
			rearm = true
		case <-srcDone:
			// drain what the source delivered, then keep cutting intervals
			// (nothing more arrives) until ctx ends
			srcDone = nil
			s.log.Info("source finished")
		case <-ctx.Done():
			// the open interval is spooled, anchored after a restart
			return s.halt(m, w, events, nil)
		}
	}
}

// full reports whether the sealer or the module is behind by MaxBacklog
// batches: reading waits for them.
func full(m *core.Sender) bool {
	return m.Backlog() >= core.MaxBacklog || m.Unprocessed() >= core.MaxBacklog
}

// halt seals the open interval into the spool and stops the workers; once
// everything numbered is sealed, the reservation shrinks to what was
// used, so a clean restart records nothing as lost.
func (s *sender) halt(m *core.Sender, w *workers, events chan core.Event, cause error) error {
	m.Step(time.Now(), core.Stop{})
	for s.dispatch(m, w); m.Backlog() > 0; s.dispatch(m, w) {
		m.Step(time.Now(), <-events)
	}
	w.stop()
	if cause == nil {
		cause = s.reserve(m.Next())
	}
	return cause
}

// read numbers one message, reserving more numbers first when the
// reservation is used up; a reservation that cannot be written stops the
// stream rather than number a message no crash could account for.
func (s *sender) read(m *core.Sender, now time.Time, msg source.Message) error {
	if m.Next() >= s.reserved {
		if err := s.reserve(m.Next() + reserveStep); err != nil {
			return err
		}
	}
	s.r.Stats.Collected.Add(1)
	m.ReadMessage(now, core.Read{Key: msg.Key, Value: msg.Value, Time: msg.Time.UnixNano(), Dropped: msg.Dropped})
	return nil
}

// dispatch hands the Sender's actions to whoever performs them.
func (s *sender) dispatch(m *core.Sender, w *workers) {
	if !m.HasReady() {
		return
	}
	for _, a := range m.Ready() {
		switch a := a.(type) {
		case core.Seal:
			w.seal.put(a)
		case core.Anchor:
			w.anchor.put(a)
		case core.Process:
			w.process.put(a)
		case core.Connect, core.Send, core.GiveUp, core.Forget:
			w.deliver.put(a)
		case core.SubmitLabel:
			select {
			case w.labels <- a:
			default:
				s.log.Error("condition queue full: a submission was not made", "condition", a.Condition)
			}
		case core.Log:
			s.log.Log(context.Background(), a.Level, a.Msg, a.Attrs...)
		case core.Count:
			s.r.Stats.count(a)
		}
	}
	m.Advance()
}

// load reads a spooled batch, or one the spool refused.
func (s *sender) load(first uint64) (*Batch, error) {
	s.mu.Lock()
	b := s.mem[first]
	s.mu.Unlock()
	if b != nil {
		return b, nil
	}
	return s.spool.Get(first)
}
