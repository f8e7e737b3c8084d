// Package dcmb is paper 000's Data Communication Module for Blockchain: it
// reads values from industrial sources, anchors salted commitments of
// them on chain per interval (Algorithm 1), delivers the messages peer to
// peer to the receiving org, which verifies each batch against the
// anchored root and acts on matches (Algorithm 2), maps values to hashed
// qualitative labels for the condition contract (Algorithms 3-5), and
// spools what the receiver cannot take yet (section 4), recording on chain
// whatever it has to give up.
//
// The protocol's decisions are made by the state machines of dcmb/core;
// this package is their driver: it feeds them the source's messages, the
// clock and the results of its I/O, and performs their actions against
// the spool, the chain (Chain) and the libp2p host (Host, Peers). This
// file holds the Runtime: its construction, Run, statistics and
// housekeeping.
package dcmb

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/core"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/sandbox"
	"github.com/sealnet/sealnet/txerr"
)

// Runtime is the DCMB of one running node.
type Runtime struct {
	cfg   *Config
	org   string
	chain Chain
	host  Host
	peers Peers
	log   *slog.Logger
	dir   string

	senders   map[string]*sender
	receivers map[string]*inbox
	recv      *core.Receiver
	Stats     Stats

	hmu      sync.Mutex // guards streams and stopping
	streams  map[network.Stream]struct{}
	stopping bool
	handlers sync.WaitGroup
	stopped  chan struct{} // closed when the runtime stops: a wait for the chain ends

	sbOnce sync.Once // the sandbox of certified streams' modules
	sb     *sandbox.Runtime
	sbErr  error
}

// Stats counts what the runtime did (read by the benchmark and status).
type Stats struct {
	Collected   atomic.Uint64 // messages read from sources
	Anchored    atomic.Uint64 // messages in anchored batches
	Delivered   atomic.Uint64 // messages acknowledged by receivers
	Received    atomic.Uint64 // messages verified and stored as a receiver
	Dropped     atomic.Uint64 // messages recorded as dropped or undelivered
	Txs         atomic.Uint64 // chain transactions submitted (anchor, drop, condition)
	mu          sync.Mutex
	anchorDelay []time.Duration // interval end to anchor committed
}

// AnchorDelays returns the recorded delays from an interval's end to its
// anchor's commit.
func (s *Stats) AnchorDelays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.anchorDelay)
	slices.Sort(out)
	return out
}

// count adds what a machine reports.
func (s *Stats) count(c core.Count) {
	s.Anchored.Add(c.Anchored)
	s.Delivered.Add(c.Delivered)
	s.Dropped.Add(c.Dropped)
	s.Received.Add(c.Received)
	if c.AnchorDelay > 0 {
		s.mu.Lock()
		if len(s.anchorDelay) < 100_000 {
			s.anchorDelay = append(s.anchorDelay, c.AnchorDelay)
		}
		s.mu.Unlock()
	}
}

// Open prepares the runtime of cfg on what d provides.
func Open(d Deps, cfg *Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		dir = d.Dir
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	r := &Runtime{cfg: cfg, org: d.Org, chain: d.Chain, host: d.Host, peers: d.Peers, log: log.With("module", "dcmb"), dir: dir,
		senders: map[string]*sender{}, receivers: map[string]*inbox{}, recv: core.NewReceiver(d.Chain.Name(), d.Org),
		streams: map[network.Stream]struct{}{}, stopped: make(chan struct{})}
	list, err := r.chain.Orgs()
	if err != nil {
		return nil, fmt.Errorf("reading the channel's organizations: %w", err)
	}
	name := r.chain.Name()
	for _, sc := range cfg.Streams {
		if !slices.Contains(list, sc.Receiver) {
			return nil, fmt.Errorf("stream %s: receiver %s is not an organization of channel %s", sc.Name, sc.Receiver, name)
		}
	}
	for _, rc := range cfg.Receive {
		if !slices.Contains(list, rc.From) {
			return nil, fmt.Errorf("receive %s: sender %s is not an organization of channel %s", rc.Stream, rc.From, name)
		}
	}
	for _, sc := range cfg.Streams {
		s, err := newSender(r, sc)
		if err != nil {
			r.closeSandbox()
			return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
		}
		r.senders[sc.Name] = s
	}
	for _, rc := range cfg.Receive {
		in, err := newInbox(r, rc)
		if err != nil {
			return nil, fmt.Errorf("receive %s: %w", rc.Stream, err)
		}
		r.receivers[rc.Stream] = in
	}
	return r, nil
}

// SetSource replaces the configured source of a stream (before Run).
func (r *Runtime) SetSource(stream string, src source.Source) error {
	s, ok := r.senders[stream]
	if !ok {
		return fmt.Errorf("no stream %q", stream)
	}
	s.src = src
	return nil
}

// Run runs every pipeline and receiver until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	r.host.SetStreamHandler(Protocol, r.handle)
	var wg sync.WaitGroup
	errs := make(chan error, len(r.senders)+1)
	for _, s := range r.senders {
		wg.Go(func() {
			if err := s.run(ctx); err != nil {
				errs <- fmt.Errorf("stream %s: %w", s.cfg.Name, err)
			}
		})
	}
	wg.Go(func() { r.housekeeping(ctx) })
	if r.cfg.Notify.Webhook != "" {
		wg.Go(func() { r.notify(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	r.stopHandlers()
	for _, in := range r.receivers {
		in.close()
	}
	r.closeSandbox()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (r *Runtime) closeSandbox() {
	if r.sb != nil {
		r.sb.Close(context.Background())
	}
}

// Channel is the channel whose contracts the runtime uses.
func (r *Runtime) Channel() string { return r.chain.Name() }

// housekeeping applies the keep settings to archives and inboxes and
// logs what the runtime did, now and every 30 s.
func (r *Runtime) housekeeping(ctx context.Context) {
	var last [6]uint64
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, s := range r.senders {
			if k := s.cfg.Keep.Duration; k > 0 {
				r.prune(s.arch, now.Add(-k), "archive", s.cfg.Name)
			}
		}
		for _, in := range r.receivers {
			if k := in.cfg.Keep.Duration; k > 0 {
				r.prune(in.inbox, now.Add(-k), "inbox", in.cfg.Stream)
			}
		}
		st := &r.Stats
		cur := [6]uint64{st.Collected.Load(), st.Anchored.Load(), st.Delivered.Load(), st.Received.Load(), st.Dropped.Load(), st.Txs.Load()}
		if cur != last {
			var spooled int64
			for _, s := range r.senders {
				spooled += s.spool.Bytes()
			}
			r.log.Info("progress", "read", cur[0], "anchored", cur[1], "delivered", cur[2], "received", cur[3],
				"given_up", cur[4], "txs", cur[5], "spooled_bytes", spooled)
			last = cur
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Runtime) prune(d *Dir, before time.Time, what, stream string) {
	n, err := d.Prune(before)
	if err != nil {
		r.log.Error("pruning failed", "stream", stream, "dir", what, "err", err)
	}
	if n > 0 {
		r.log.Info("old batches deleted (their roots stay on chain)", "stream", stream, "dir", what, "batches", n)
	}
}

// submit submits a contract call, retrying while the mempool is full.
func (r *Runtime) submit(ctx context.Context, tx core.Tx) (*ledger.TxResult, error) {
	backoff := 50 * time.Millisecond
	for {
		res, err := r.chain.Submit(ctx, tx.Contract, tx.Method, tx.Args)
		if err == nil {
			r.Stats.Txs.Add(1)
			return res, nil
		}
		if txerr.CodeOf(err) != txerr.Unavailable || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// anchorOf returns the chain's record of b's anchor, if the chain anchors
// exactly b (same range and root).
func (r *Runtime) anchorOf(b *Batch) (*audit.Batch, bool) {
	if b.Dropped != "" {
		return nil, false
	}
	rec, err := r.chain.Batch(b.Stream, b.FirstSeq)
	if err != nil || !core.AnchorMatches(b, rec) {
		return nil, false
	}
	return rec, true
}

// streamDir is where a stream's files live on this node.
func (r *Runtime) streamDir(kind, stream string) string {
	return filepath.Join(r.dir, kind, hex.EncodeToString([]byte(stream)))
}
