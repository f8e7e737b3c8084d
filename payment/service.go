package payment

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
)

// Members is what the service asks of the node's libp2p gate.
type Members interface {
	// Lookup returns the enrolled member behind a peer.
	Lookup(peer.ID) (p2p.Member, bool)
	// NodesOf returns the peers of an org's nodes.
	NodesOf(org string) []peer.ID
}

// Config is what a Service is built from. Durations are wall-clock
// time, block counts are blocks.
type Config struct {
	// Identity is the node's: it signs the vouchers of the channels the
	// node opened and the payee's redeem, settle and collect.
	Identity *identity.Identity
	Dir      string // the voucher journal and its snapshot
	Host     host.Host
	Members  Members
	Ledger   Ledger
	Log      *slog.Logger

	// JournalLimit is the journal's size in bytes that triggers its
	// compaction (0: 64 MiB).
	JournalLimit int64
	// MinBlocksLeft: CanPay refuses a channel that expires in fewer
	// blocks (0: 20).
	MinBlocksLeft int64
	// ReplicaWait is how long the payee's node waits for its replica to
	// show a channel or a job the payer's node already saw (0: 10 s).
	ReplicaWait time.Duration
	// IdleTimeout closes a payer's stream after this long without a
	// voucher (0: 5 min).
	IdleTimeout time.Duration
}

// Service is a node's side of payment channels: as payee it takes
// vouchers over Protocol, stores them durably, answers settles, and tells
// the compute worker whether a channel can pay; as payer it signs and
// sends vouchers of the channels it opened, and relays its members'.
type Service struct {
	cfg  Config
	org  string
	book *book
	j    *journal

	mu       sync.Mutex
	sessions map[chanKey]*session
	paid     map[string]Receipt      // chain/job/org: jobs this node paid for
	redeems  map[chanKey]bool        // redeems under way
	streams  map[network.Stream]bool // payers' streams being served

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	accepted, refused atomic.Uint64
}

// New opens the voucher journal in cfg.Dir, replays it, and serves
// Protocol on cfg.Host.
func New(cfg Config) (*Service, error) {
	if cfg.JournalLimit == 0 {
		cfg.JournalLimit = 64 << 20
	}
	if cfg.MinBlocksLeft == 0 {
		cfg.MinBlocksLeft = 20
	}
	if cfg.ReplicaWait == 0 {
		cfg.ReplicaWait = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Service{cfg: cfg, org: cfg.Identity.Member.Org, book: newBook(), sessions: map[chanKey]*session{},
		paid: map[string]Receipt{}, redeems: map[chanKey]bool{}, streams: map[network.Stream]bool{}}
	j, recs, err := openJournal(cfg.Dir, cfg.JournalLimit, s.book.snapshot)
	if err != nil {
		return nil, fmt.Errorf("voucher store: %w", err)
	}
	s.j = j
	for _, raw := range recs {
		// the node's own file, checksummed: decoded, not verified again
		d, err := voucher.Decode(raw)
		if err != nil {
			cfg.Log.Error("voucher store: a stored voucher does not decode", "err", err)
			continue
		}
		s.book.stored(d, raw)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cfg.Host.SetStreamHandler(Protocol, s.handle)
	return s, nil
}

// Close stops serving, ends the payer's streams and flushes the journal.
func (s *Service) Close() error {
	s.cfg.Host.RemoveStreamHandler(Protocol)
	s.cancel()
	s.mu.Lock()
	var open []*session
	for _, ss := range s.sessions {
		open = append(open, ss)
	}
	for st := range s.streams {
		st.Reset()
	}
	s.mu.Unlock()
	for _, ss := range open {
		<-ss.ready
		ss.end(errors.New("payment service closed"))
	}
	s.wg.Wait()
	return s.j.close()
}

// Stats are the service's counters.
type Stats struct {
	Accepted uint64 `json:"accepted"` // vouchers that passed the checks
	Refused  uint64 `json:"refused"`  // vouchers and streams refused
	Flushes  uint64 `json:"flushes"`  // fsyncs of the journal
	Stored   uint64 `json:"stored"`   // vouchers written through them
}

// Stats returns the counters so far.
func (s *Service) Stats() Stats {
	f, r := s.j.stats()
	return Stats{Accepted: s.accepted.Load(), Refused: s.refused.Load(), Flushes: f, Stored: r}
}

// parseChannel reads a channel ID (64 hex digits).
func parseChannel(chain, id string) (chanKey, error) {
	k := chanKey{chain: chain}
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 32 {
		return k, refuse(CodeMalformed, "channel %q is not 64 hex digits", id)
	}
	copy(k.id[:], b)
	return k, nil
}

// Held returns the latest voucher the node holds durably on each lane of
// a channel it is paid by, in lane order.
func (s *Service) Held(chain, channel string) ([]voucher.Lane, [][]byte, error) {
	k, err := parseChannel(chain, channel)
	if err != nil {
		return nil, nil, err
	}
	h := s.book.lookup(k)
	if h == nil {
		return []voucher.Lane{}, [][]byte{}, nil
	}
	lanes, raws := []voucher.Lane{}, [][]byte{}
	for _, v := range s.book.latest(h) {
		lanes, raws = append(lanes, v.lane), append(raws, v.raw)
	}
	return lanes, raws, nil
}
