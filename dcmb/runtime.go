// Package dcmb is paper 000's Data Communication Module for Blockchain: it
// reads values from industrial sources, anchors salted commitments of
// them on chain per interval (Algorithm 1), delivers the messages peer to
// peer to the receiving org, which verifies each batch against the
// anchored root and acts on matches (Algorithm 2), maps values to hashed
// qualitative labels for the condition contract (Algorithms 3-5), and
// spools what the receiver cannot take yet (section 4), recording on chain
// whatever it has to give up.
package dcmb

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/txerr"
)

// Runtime is the DCMB of one running node.
type Runtime struct {
	n   *node.Node
	cfg *Config
	ch  *ledger.Channel
	log *slog.Logger
	dir string

	senders   map[string]*sender
	receivers map[string]*receiver
	Stats     Stats

	hmu      sync.Mutex // guards streams and stopping
	streams  map[network.Stream]struct{}
	stopping bool
	handlers sync.WaitGroup
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
	out := append([]time.Duration(nil), s.anchorDelay...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s *Stats) addDelay(d time.Duration) {
	s.mu.Lock()
	if len(s.anchorDelay) < 100_000 {
		s.anchorDelay = append(s.anchorDelay, d)
	}
	s.mu.Unlock()
}

// New prepares the runtime of node n. It needs the node's p2p host.
func New(n *node.Node, cfg *Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if n.Share() == nil {
		return nil, errors.New("the DCMB needs the node's p2p host: set p2p.listen in config.toml")
	}
	ch, err := n.Channel(cfg.Channel)
	if err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		dir = filepath.Join(string(n.Home), "dcmb")
	}
	r := &Runtime{n: n, cfg: cfg, ch: ch, log: n.Log.With("module", "dcmb"), dir: dir,
		senders: map[string]*sender{}, receivers: map[string]*receiver{}, streams: map[network.Stream]struct{}{}}
	orgs, err := r.channelOrgs()
	if err != nil {
		return nil, err
	}
	for _, sc := range cfg.Streams {
		if !orgs[sc.Receiver] {
			return nil, fmt.Errorf("stream %s: receiver %s is not an organization of channel %s", sc.Name, sc.Receiver, ch.Name)
		}
	}
	for _, rc := range cfg.Receive {
		if !orgs[rc.From] {
			return nil, fmt.Errorf("receive %s: sender %s is not an organization of channel %s", rc.Stream, rc.From, ch.Name)
		}
	}
	for _, sc := range cfg.Streams {
		s, err := newSender(r, sc)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
		}
		r.senders[sc.Name] = s
	}
	for _, rc := range cfg.Receive {
		rv, err := newReceiver(r, rc)
		if err != nil {
			return nil, fmt.Errorf("receive %s: %w", rc.Stream, err)
		}
		r.receivers[rc.Stream] = rv
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
	r.n.Share().Host.SetStreamHandler(Protocol, r.handle)
	var wg sync.WaitGroup
	errs := make(chan error, len(r.senders)+1)
	for _, s := range r.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(ctx); err != nil {
				errs <- fmt.Errorf("stream %s: %w", s.cfg.Name, err)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); r.housekeeping(ctx) }()
	if r.cfg.Notify.Webhook != "" {
		wg.Add(1)
		go func() { defer wg.Done(); r.notify(ctx) }()
	}
	<-ctx.Done()
	wg.Wait()
	r.stopHandlers()
	for _, rv := range r.receivers {
		rv.close()
	}
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// Channel is the channel whose contracts the runtime uses.
func (r *Runtime) Channel() string { return r.ch.Name }

// housekeeping applies the keep settings to archives and inboxes and
// logs what the runtime did, now and every 30 s.
func (r *Runtime) housekeeping(ctx context.Context) {
	var last [6]uint64
	for {
		now := time.Now()
		for _, s := range r.senders {
			if k := s.cfg.Keep.Duration; k > 0 {
				r.prune(s.arch, now.Add(-k), "archive", s.cfg.Name)
			}
		}
		for _, rv := range r.receivers {
			if k := rv.cfg.Keep.Duration; k > 0 {
				r.prune(rv.inbox, now.Add(-k), "inbox", rv.cfg.Stream)
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
		if !sleepCtx(ctx, 30*time.Second) {
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

// track registers a delivery stream being served; false once the runtime
// stops.
func (r *Runtime) track(st network.Stream) bool {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.stopping {
		return false
	}
	r.streams[st] = struct{}{}
	r.handlers.Add(1)
	return true
}

func (r *Runtime) untrack(st network.Stream) {
	r.hmu.Lock()
	delete(r.streams, st)
	r.hmu.Unlock()
	r.handlers.Done()
}

// stopHandlers ends the delivery streams being served and waits for their
// handlers, so that nothing is received after Run returns.
func (r *Runtime) stopHandlers() {
	r.n.Share().Host.RemoveStreamHandler(Protocol)
	r.hmu.Lock()
	r.stopping = true
	for st := range r.streams {
		st.Reset()
	}
	r.hmu.Unlock()
	r.handlers.Wait()
}

// submit signs a call with the node's identity and waits for its block,
// retrying while the mempool is full.
func (r *Runtime) submit(ctx context.Context, contractName, method string, args any) (*ledger.TxResult, error) {
	backoff := 50 * time.Millisecond
	for {
		raw, err := envelope.SignCall(r.n.Identity, r.ch.Name, contractName, method, args, time.Now())
		if err != nil {
			return nil, err
		}
		res, err := r.ch.Submit(ctx, raw)
		if err == nil && res.Code != txerr.OK {
			err = &txerr.Error{Code: res.Code, Msg: res.Log}
		}
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

// channelOrgs reads the channel's organizations from its registry.
func (r *Runtime) channelOrgs() (map[string]bool, error) {
	raw, err := r.ch.App.QueryContract(registry.Name, "orgs", nil)
	if err != nil {
		return nil, fmt.Errorf("reading the channel's organizations: %w", err)
	}
	var list []registry.Org
	if err := canon.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("reading the channel's organizations: %w", err)
	}
	orgs := map[string]bool{}
	for _, o := range list {
		orgs[o.Name] = true
	}
	return orgs, nil
}

// chainStream reads a stream's anchoring state (nil if never anchored).
func (r *Runtime) chainStream(name string) (*audit.Stream, error) {
	raw, err := r.ch.App.QueryContract(audit.Name, "stream", canon.MustMarshal(map[string]string{"stream": name}))
	if txerr.CodeOf(err) == txerr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s audit.Stream
	if err := canon.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// anchorOf returns the chain's record of b's anchor, if the chain anchors
// exactly b (same range and root).
func (r *Runtime) anchorOf(b *Batch) (*audit.Batch, bool) {
	if b.Dropped != "" {
		return nil, false
	}
	cb, err := r.chainBatch(b.Stream, b.FirstSeq)
	if err != nil || cb == nil || cb.Dropped != "" || cb.Count != b.Count || cb.Root != hex.EncodeToString(b.Root) {
		return nil, false
	}
	return cb, true
}

// chainBatch reads the anchored range of a stream starting at first (nil if none).
func (r *Runtime) chainBatch(stream string, first uint64) (*audit.Batch, error) {
	raw, err := r.ch.App.QueryContract(audit.Name, "batch", canon.MustMarshal(struct {
		Stream   string `cbor:"stream"`
		FirstSeq uint64 `cbor:"first_seq,omitempty"`
	}{stream, first}))
	if txerr.CodeOf(err) == txerr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var b audit.Batch
	if err := canon.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// streamDir is where a stream's files live on this node.
func (r *Runtime) streamDir(kind, stream string) string {
	return filepath.Join(r.dir, kind, hex.EncodeToString([]byte(stream)))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
