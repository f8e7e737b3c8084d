package dcmb

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/txerr"
)

// meta is what the sender keeps in memory of a spooled batch.
type meta struct {
	first, count uint64
	anchored     bool
	created      int64
}

type condSubmit struct {
	rule int
}

// sender is one stream's pipeline: source, batches, anchoring, delivery.
type sender struct {
	r      *Runtime
	cfg    StreamConfig
	log    *slog.Logger
	secret evidence.StreamSecret
	spool  *Dir
	arch   *Dir
	src    source.Source

	mu          sync.Mutex
	metas       []meta            // spooled batches, ascending
	cache       map[uint64]*Batch // sealed batches not anchored yet
	next        uint64
	anchorWake  chan struct{}
	deliverWake chan struct{}
	armed       map[string]bool
	conds       chan condSubmit
	reachable   bool
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
	s := &sender{r: r, cfg: cfg, log: r.log.With("stream", cfg.Name), spool: spool, arch: arch,
		cache: map[uint64]*Batch{}, anchorWake: make(chan struct{}, 1), deliverWake: make(chan struct{}, 1),
		armed: map[string]bool{}, conds: make(chan condSubmit, 1024), reachable: true}
	copy(s.secret[:], sec)
	if s.src, err = buildSource(cfg, s.log); err != nil {
		return nil, err
	}
	return s, nil
}

func buildSource(cfg StreamConfig, log *slog.Logger) (source.Source, error) {
	c := cfg.Source
	key := c.Key
	if key == "" {
		key = cfg.Name
	}
	switch c.Kind {
	case "mqtt":
		if c.QoS < 0 || c.QoS > 2 {
			return nil, fmt.Errorf("source.qos %d: want 0, 1 or 2", c.QoS)
		}
		id := c.ClientID
		if id == "" {
			id = "sealnet-" + cfg.Name
		}
		return &source.MQTT{Name: cfg.Name, Broker: c.Broker, ClientID: id, Topics: c.Topics, QoS: byte(c.QoS), Log: log}, nil
	case "opcua":
		if c.Endpoint == "" || len(c.Nodes) == 0 {
			return nil, errors.New("an opcua source needs endpoint and nodes")
		}
		return &source.OPCUA{Name: cfg.Name, Endpoint: c.Endpoint, Nodes: c.Nodes, Security: c.Security,
			CertFile: c.CertFile, KeyFile: c.KeyFile, Interval: c.Sampling.Duration, Log: log}, nil
	case "file":
		if c.Path == "" {
			return nil, errors.New("source.path is required for a file source")
		}
		return &source.File{Name: cfg.Name, Key: key, Path: c.Path}, nil
	case "stdin":
		return &source.Lines{Name: cfg.Name, Key: key, Reader: os.Stdin}, nil
	case "http":
		if c.Listen == "" {
			return nil, errors.New("source.listen is required for an http source")
		}
		return &source.HTTP{Name: cfg.Name, Key: key, Listen: c.Listen}, nil
	}
	return nil, fmt.Errorf("source.kind %q unknown", c.Kind)
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// recover rebuilds the spool's index and the next sequence number from
// the spool and the chain.
func (s *sender) recover() error {
	st, err := s.r.chainStream(s.cfg.Name)
	if err != nil {
		return err
	}
	if st != nil {
		if st.Org != s.r.n.Config().Org {
			return fmt.Errorf("stream %s is anchored by org %s on this channel: choose another name", s.cfg.Name, st.Org)
		}
		s.next = st.Next
	}
	for _, first := range s.spool.List() {
		b, err := s.spool.Get(first)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		_, anchored := s.r.anchorOf(b)
		s.metas = append(s.metas, meta{first: b.FirstSeq, count: b.Count, anchored: anchored, created: b.Created})
		s.next = max(s.next, b.FirstSeq+b.Count)
	}
	if len(s.metas) > 0 {
		s.log.Info("spool recovered", "batches", len(s.metas), "bytes", s.spool.Bytes(), "next_seq", s.next)
	}
	return nil
}

func (s *sender) run(ctx context.Context) error {
	if err := s.recover(); err != nil {
		return err
	}
	in := make(chan source.Message, 8192)
	srcDone := make(chan struct{})
	go func() {
		defer close(srcDone)
		if err := s.src.Run(ctx, in); err != nil {
			s.log.Error("source stopped", "err", err)
		}
	}()
	sealq := make(chan *Batch, 2)
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); s.collect(ctx, in, srcDone, sealq) }()
	go func() { defer wg.Done(); s.sealer(sealq) }()
	go func() { defer wg.Done(); s.anchorLoop(ctx) }()
	go func() { defer wg.Done(); s.deliverLoop(ctx) }()
	go s.condLoop(ctx)
	wg.Wait()
	return nil
}

// collect numbers messages and cuts them into batches per interval.
func (s *sender) collect(ctx context.Context, in <-chan source.Message, srcDone <-chan struct{}, sealq chan<- *Batch) {
	defer close(sealq)
	s.mu.Lock()
	next := s.next
	s.mu.Unlock()
	newBatch := func() *Batch {
		return &Batch{Stream: s.cfg.Name, Mode: s.cfg.Mode, FirstSeq: next, Start: time.Now().UnixNano(), Msgs: []Message{}}
	}
	cur := newBatch()
	cut := func() {
		if len(cur.Msgs) > 0 {
			cur.End = time.Now().UnixNano()
			sealq <- cur
		}
		cur = newBatch()
	}
	tick := time.NewTicker(s.cfg.Interval.Duration)
	defer tick.Stop()
	for {
		select {
		case m := <-in:
			if reason := unfit(m); reason != "" {
				// the wire and the spool cannot carry it: its sequence
				// number is recorded on chain as dropped, with the reason
				cut()
				now := time.Now().UnixNano()
				s.log.Warn("message cannot be carried: recorded on chain as dropped", "seq", next, "reason", reason)
				sealq <- &Batch{Stream: s.cfg.Name, Mode: s.cfg.Mode, FirstSeq: next, Count: 1, Start: now, End: now, Dropped: reason}
				next++
				s.r.Stats.Collected.Add(1)
				cur = newBatch()
				continue
			}
			cur.Msgs = append(cur.Msgs, Message{Seq: next, Key: m.Key, Value: m.Value, Time: m.Time.UnixNano()})
			next++
			s.r.Stats.Collected.Add(1)
			s.applyRules(m.Key, m.Value)
			if len(cur.Msgs) >= s.cfg.MaxBatch {
				cut()
			}
		case <-tick.C:
			cut()
		case <-srcDone:
			// drain what the source delivered, then keep cutting intervals
			// (nothing more arrives) until ctx ends
			srcDone = nil
			s.log.Info("source finished")
		case <-ctx.Done():
			cut() // the open interval is spooled, anchored after a restart
			return
		}
	}
}

// sealer computes each batch's commitment and spools it, or, when the
// spool is full, spools a marker that the range was dropped.
func (s *sender) sealer(sealq <-chan *Batch) {
	for b := range sealq {
		b.Created = time.Now().UnixNano()
		if b.Dropped == "" {
			b.Count = uint64(len(b.Msgs))
		}
		switch {
		case b.Dropped != "":
			// a message collect could not carry: spooled as a marker
		case s.spool.Bytes()+b.Bytes() > s.cfg.SpoolBytes:
			reason := fmt.Sprintf("spool full (%d bytes limit)", s.cfg.SpoolBytes)
			s.log.Warn("spool full: dropping a batch, recorded on chain", "first_seq", b.FirstSeq, "count", b.Count)
			b = &Batch{Stream: b.Stream, Mode: b.Mode, FirstSeq: b.FirstSeq, Count: b.Count, Start: b.Start, End: b.End,
				Created: b.Created, Dropped: reason}
		case b.Mode == audit.ModePaper:
			b.PaperSalt = make([]byte, 32)
			rand.Read(b.PaperSalt)
			b.Root = b.ComputeRoot(s.secret)
		default:
			b.Root = b.ComputeRoot(s.secret)
		}
		if err := s.spool.Put(b); err != nil {
			// the disk refuses: keep it in memory and say so; it is still anchored
			s.log.Error("spool write failed; batch kept in memory only", "first_seq", b.FirstSeq, "err", err)
		}
		s.mu.Lock()
		s.metas = append(s.metas, meta{first: b.FirstSeq, count: b.Count, created: b.Created})
		s.cache[b.FirstSeq] = b
		s.mu.Unlock()
		wake(s.anchorWake)
	}
}

func (s *sender) load(first uint64) (*Batch, error) {
	s.mu.Lock()
	b := s.cache[first]
	s.mu.Unlock()
	if b != nil {
		return b, nil
	}
	return s.spool.Get(first)
}

func (s *sender) firstUnanchored() (meta, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.metas {
		if !m.anchored {
			return m, true
		}
	}
	return meta{}, false
}

func (s *sender) setAnchored(first uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.metas {
		if s.metas[i].first == first {
			s.metas[i].anchored = true
		}
	}
	delete(s.cache, first)
}

// forget removes a batch from the spool: archived when delivered (and
// archiving is on), removed otherwise.
func (s *sender) forget(first uint64, keep bool) {
	s.mu.Lock()
	for i := range s.metas {
		if s.metas[i].first == first {
			s.metas = append(s.metas[:i], s.metas[i+1:]...)
			break
		}
	}
	delete(s.cache, first)
	s.mu.Unlock()
	var err error
	if keep && *s.cfg.Archive {
		err = s.spool.MoveTo(first, s.arch)
	} else {
		err = s.spool.Remove(first)
	}
	if err != nil {
		s.log.Error("spool cleanup", "first_seq", first, "err", err)
	}
}

// anchorLoop anchors spooled batches in sequence order, and records the
// ranges dropped before anchoring.
func (s *sender) anchorLoop(ctx context.Context) {
	backoff := time.Second
	for {
		m, ok := s.firstUnanchored()
		if !ok {
			select {
			case <-s.anchorWake:
				continue
			case <-ctx.Done():
				return
			}
		}
		b, err := s.load(m.first)
		if err == nil {
			err = s.anchor(ctx, b)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("anchoring failed, retrying", "first_seq", m.first, "err", err)
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
}

func (s *sender) anchor(ctx context.Context, b *Batch) error {
	if b.Dropped != "" {
		_, err := s.r.submit(ctx, audit.Name, "drop", audit.DropArgs{Stream: b.Stream, FirstSeq: b.FirstSeq, Count: b.Count, Reason: b.Dropped, At: b.Created})
		if err != nil && !s.alreadyRecorded(b) {
			return err
		}
		s.r.Stats.Dropped.Add(b.Count)
		s.forget(b.FirstSeq, false)
		return nil
	}
	args := audit.AnchorArgs{Stream: b.Stream, Receiver: s.cfg.Receiver, FirstSeq: b.FirstSeq, Count: b.Count, Root: b.Root,
		Mode: b.Mode, Salt: b.PaperSalt, IntervalStart: b.Start, IntervalEnd: b.End}
	res, err := s.r.submit(ctx, audit.Name, "anchor", args)
	var height int64
	if err != nil {
		if txerr.CodeOf(err) != txerr.Rejected {
			return err
		}
		// an earlier try may have committed without us seeing it
		cb, ok := s.r.anchorOf(b)
		if !ok {
			return err
		}
		height = cb.Height
	} else {
		height = res.Height
		s.r.Stats.addDelay(time.Since(time.Unix(0, b.End)))
	}
	// the anchor is not written to the spool: the chain holds it, and a
	// restart reads it from there (anchorOf)
	s.r.Stats.Anchored.Add(b.Count)
	s.setAnchored(b.FirstSeq)
	s.log.Debug("batch anchored", "first_seq", b.FirstSeq, "count", b.Count, "height", height)
	wake(s.deliverWake)
	return nil
}

// alreadyRecorded reports whether a drop marker's range is on chain (an
// earlier try committed).
func (s *sender) alreadyRecorded(b *Batch) bool {
	cb, err := s.r.chainBatch(b.Stream, b.FirstSeq)
	return err == nil && cb != nil && cb.Dropped == b.Dropped && cb.Count == b.Count
}

// deliverLoop sends anchored batches to the receiver in order, and gives
// up (on chain) those older than the spool timeout.
func (s *sender) deliverLoop(ctx context.Context) {
	var l *link
	defer func() {
		if l != nil {
			l.close()
		}
	}()
	backoff := 500 * time.Millisecond
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		s.expire(ctx)
		s.mu.Lock()
		var m meta
		ok := len(s.metas) > 0 && s.metas[0].anchored
		if ok {
			m = s.metas[0]
		}
		s.mu.Unlock()
		if !ok {
			select {
			case <-s.deliverWake:
			case <-tick.C:
			case <-ctx.Done():
			}
			continue
		}
		if l == nil {
			var next uint64
			var err error
			l, next, err = s.connect(ctx)
			if err != nil {
				s.setReachable(false, err)
				if !sleepCtx(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, 10*time.Second)
				continue
			}
			s.setReachable(true, nil)
			backoff = 500 * time.Millisecond
			s.acked(next)
			continue
		}
		b, err := s.spool.Get(m.first)
		if err != nil {
			s.log.Error("spooled batch unreadable", "first_seq", m.first, "err", err)
			if !sleepCtx(ctx, backoff) {
				return
			}
			continue
		}
		next, err := l.send(b, s)
		if err != nil {
			l.close()
			l = nil
			var rej *rejectError
			if errors.As(err, &rej) {
				s.log.Warn("receiver rejected a batch", "first_seq", m.first, "reason", rej.reason)
			} else {
				s.setReachable(false, err)
			}
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		s.acked(next)
	}
}

func (s *sender) setReachable(ok bool, err error) {
	s.mu.Lock()
	was := s.reachable
	s.reachable = ok
	s.mu.Unlock()
	switch {
	case was && !ok:
		s.log.Warn("receiver unreachable: spooling until it is back", "receiver", s.cfg.Receiver, "err", err)
	case !was && ok:
		s.log.Info("receiver reachable again: delivering the spool", "receiver", s.cfg.Receiver, "spooled_bytes", s.spool.Bytes())
	}
}

// acked forgets every anchored batch below next.
func (s *sender) acked(next uint64) {
	for {
		s.mu.Lock()
		ok := len(s.metas) > 0 && s.metas[0].anchored && s.metas[0].first+s.metas[0].count <= next
		var m meta
		if ok {
			m = s.metas[0]
		}
		s.mu.Unlock()
		if !ok {
			return
		}
		s.r.Stats.Delivered.Add(m.count)
		s.forget(m.first, true)
	}
}

// expire gives up anchored batches older than the spool timeout and
// records them on chain as undelivered.
func (s *sender) expire(ctx context.Context) {
	limit := time.Now().Add(-s.cfg.SpoolTimeout.Duration).UnixNano()
	s.mu.Lock()
	var old []meta
	for _, m := range s.metas {
		if m.anchored && m.created < limit {
			old = append(old, m)
		}
	}
	s.mu.Unlock()
	for _, m := range old {
		reason := fmt.Sprintf("spool timeout (%s)", s.cfg.SpoolTimeout)
		_, err := s.r.submit(ctx, audit.Name, "drop", audit.DropArgs{Stream: s.cfg.Name, FirstSeq: m.first, Count: m.count, Reason: reason, At: time.Now().UnixNano()})
		if err != nil {
			cb, qerr := s.r.chainBatch(s.cfg.Name, m.first)
			if qerr != nil || cb == nil || cb.Undelivered == "" {
				s.log.Error("recording an undelivered batch failed", "first_seq", m.first, "err", err)
				return
			}
		}
		s.log.Warn("batch given up after the spool timeout, recorded on chain", "first_seq", m.first, "count", m.count)
		s.r.Stats.Dropped.Add(m.count)
		s.forget(m.first, true)
	}
}

// unfit says why a message cannot be carried ("" if it can).
func unfit(m source.Message) string {
	switch {
	case len(m.Key) > MaxKey || !utf8.ValidString(m.Key):
		return fmt.Sprintf("message key of %d bytes is not UTF-8 of at most %d bytes", len(m.Key), MaxKey)
	case len(m.Value) > MaxValue:
		return fmt.Sprintf("message value of %d bytes exceeds %d", len(m.Value), MaxValue)
	}
	return ""
}

// applyRules maps a value to labels and queues condition submissions on
// entering a rule's range. The value itself is never logged.
func (s *sender) applyRules(key string, value []byte) {
	if len(s.cfg.Rules) == 0 {
		return
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(value)), 64)
	if err != nil {
		return
	}
	for i, r := range s.cfg.Rules {
		if r.Key != "" && r.Key != key {
			continue
		}
		k := strconv.Itoa(i) + "\x00" + key
		in := r.matches(v)
		if in && !s.armed[k] {
			select {
			case s.conds <- condSubmit{rule: i}:
			default:
				s.log.Error("condition queue full: a submission was not made", "condition", r.Condition)
			}
		}
		s.armed[k] = in
	}
}

func (s *sender) condLoop(ctx context.Context) {
	for {
		select {
		case c := <-s.conds:
			r := s.cfg.Rules[c.rule]
			args := condition.SubmitArgs{ID: r.Condition, Hash: condition.Hash(r.Label, []byte(r.LabelSalt))}
			res, err := s.r.submit(ctx, condition.Name, "submit", args)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("condition submission failed", "condition", r.Condition, "err", err)
				}
				continue
			}
			s.log.Info("hashed label submitted", "condition", r.Condition, "tx", res.ID.String()[:16], "height", res.Height)
		case <-ctx.Done():
			return
		}
	}
}

// link is an open delivery stream to the receiver.
type link struct {
	st network.Stream
	w  *bufio.Writer
	r  *bufio.Reader
}

type rejectError struct{ reason string }

func (e *rejectError) Error() string { return "receiver rejected: " + e.reason }

func (l *link) close() { l.st.Reset() }

func (l *link) read(d time.Duration) (any, error) {
	l.st.SetReadDeadline(time.Now().Add(d))
	raw, err := wire.ReadFrame(l.r)
	if err != nil {
		return nil, err
	}
	f, err := DecodeFrame(raw)
	if err != nil {
		return nil, err
	}
	if rj, ok := f.(*Reject); ok {
		return nil, &rejectError{reason: rj.Reason}
	}
	return f, nil
}

// connect opens a delivery stream to the receiver's node and returns the
// next sequence number it lacks.
func (s *sender) connect(ctx context.Context) (*link, uint64, error) {
	host := s.r.n.Share().Host
	var peers []peer.ID
	if s.cfg.ReceiverPeer != "" {
		p, err := peer.Decode(s.cfg.ReceiverPeer)
		if err != nil {
			return nil, 0, fmt.Errorf("receiver_peer: %w", err)
		}
		peers = []peer.ID{p}
	} else {
		peers = s.r.n.Share().Gate.NodesOf(s.cfg.Receiver)
	}
	if len(peers) == 0 {
		return nil, 0, fmt.Errorf("no enrolled node of org %s", s.cfg.Receiver)
	}
	var errs []error
	for _, p := range peers {
		if p == host.ID() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := host.NewStream(cctx, p, Protocol)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l := &link{st: st, w: bufio.NewWriterSize(st, 256<<10), r: bufio.NewReader(st)}
		h := &Hello{Channel: s.r.ch.Name, Stream: s.cfg.Name, Mode: s.cfg.Mode, Deliver: s.cfg.Deliver}
		if s.cfg.Mode == audit.ModeSealed {
			h.Secret = s.secret[:]
		}
		if err := wire.WriteFrame(l.w, wire.Encode(h)); err != nil || l.w.Flush() != nil {
			l.close()
			errs = append(errs, fmt.Errorf("hello: %v", err))
			continue
		}
		f, err := l.read(30 * time.Second)
		if err != nil {
			l.close()
			return nil, 0, err
		}
		w, ok := f.(*Welcome)
		if !ok {
			l.close()
			return nil, 0, fmt.Errorf("receiver answered hello with %T", f)
		}
		return l, w.Next, nil
	}
	return nil, 0, errors.Join(errs...)
}

// send delivers one batch and returns the receiver's acknowledged next
// sequence number.
func (l *link) send(b *Batch, s *sender) (uint64, error) {
	l.st.SetWriteDeadline(time.Now().Add(60 * time.Second))
	if err := wire.WriteFrame(l.w, wire.Encode(&Head{FirstSeq: b.FirstSeq, Count: b.Count})); err != nil {
		return 0, err
	}
	if s.cfg.Deliver == DeliverHashes {
		leaves := b.LeafHashes(s.secret)
		for i := 0; i < len(leaves); i += MaxChunk {
			j := min(i+MaxChunk, len(leaves))
			f := &Leaves{Leaves: leaves[i:j]}
			for _, m := range b.Msgs[i:j] {
				f.Keys = append(f.Keys, m.Key)
				f.Times = append(f.Times, m.Time)
			}
			if err := wire.WriteFrame(l.w, wire.Encode(f)); err != nil {
				return 0, err
			}
		}
	} else {
		for i := 0; i < len(b.Msgs); {
			j, size := i, 0
			for j < len(b.Msgs) && j-i < MaxChunk && size < 1<<20 {
				size += len(b.Msgs[j].Value) + len(b.Msgs[j].Key) + 24
				j++
			}
			if err := wire.WriteFrame(l.w, wire.Encode(&Chunk{Msgs: b.Msgs[i:j]})); err != nil {
				return 0, err
			}
			i = j
		}
	}
	if err := l.w.Flush(); err != nil {
		return 0, err
	}
	f, err := l.read(60 * time.Second)
	if err != nil {
		return 0, err
	}
	a, ok := f.(*Ack)
	if !ok {
		return 0, fmt.Errorf("receiver answered a batch with %T", f)
	}
	return a.Next, nil
}
