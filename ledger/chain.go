package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sealnet/sealnet/internal/parallel"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/mempool"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/types"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/txerr"
)

// ChainConfig is how one channel's CometBFT node runs.
type ChainConfig struct {
	Home            string        // the channel's CometBFT home: config/ and data/
	Moniker         string        // node name shown to peers
	P2PListen       string        // e.g. tcp://127.0.0.1:26656
	PersistentPeers string        // comma-separated id@host:port
	TimeoutCommit   time.Duration // pause after a commit before the next height
	EmptyBlocks     time.Duration // an empty block after this much idle time (0: never)
	MempoolSize     int           // transactions; also the most one block holds
	OpenNetwork     bool          // accept any peer (benchmark baselines); sealnet channels admit only registered nodes
	NoPEX           bool          // dial only PersistentPeers, never addresses learned from peers
}

// DefaultChainConfig returns the defaults for a channel home.
func DefaultChainConfig(home string) ChainConfig {
	return ChainConfig{Home: home, Moniker: "sealnet", P2PListen: "tcp://127.0.0.1:26656",
		TimeoutCommit: 10 * time.Millisecond, EmptyBlocks: 10 * time.Second, MempoolSize: 5000}
}

// CometConfig translates c into CometBFT's configuration. The transaction
// indexer is off and ABCI responses are discarded: the app keeps its own
// transaction index, which costs far less than CometBFT's per-event one.
func (c ChainConfig) CometConfig() *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(c.Home)
	cfg.Moniker = c.Moniker
	cfg.RPC.ListenAddress = ""
	cfg.P2P.ListenAddress = c.P2PListen
	cfg.P2P.PersistentPeers = c.PersistentPeers
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.AllowDuplicateIP = true
	cfg.P2P.PexReactor = !c.NoPEX
	// connections flush at most this often: a message waits this long
	// before it leaves. CometBFT's 100 ms default costs several hundred ms
	// per block between validators; 1 ms costs a few more writes under
	// load, where messages queue up between flushes anyway.
	cfg.P2P.FlushThrottleTimeout = time.Millisecond
	cfg.FilterPeers = !c.OpenNetwork
	cfg.TxIndex.Indexer = "null"
	cfg.Storage.DiscardABCIResponses = true
	cfg.Consensus.TimeoutCommit = c.TimeoutCommit
	// gossip steps poll for something to send and sleep this long when
	// there is nothing: every consensus step (proposal, prevotes,
	// precommits) waits up to this long to leave. The default 100 ms adds
	// up to a third of a second per block between validators; at 1 ms a
	// transaction commits in about 10-20 ms on a two-validator loopback
	// network, and the polling costs four idle validators about 2% of a
	// core more than at 10 ms.
	cfg.Consensus.PeerGossipSleepDuration = time.Millisecond
	cfg.Consensus.CreateEmptyBlocks = c.EmptyBlocks > 0
	cfg.Consensus.CreateEmptyBlocksInterval = c.EmptyBlocks
	cfg.Mempool.Size = c.MempoolSize
	cfg.Mempool.CacheSize = 4 * c.MempoolSize
	cfg.Instrumentation.Prometheus = false
	return cfg
}

// Validate checks the fields.
func (c ChainConfig) Validate() error {
	if c.Home == "" {
		return errors.New("chain home is empty")
	}
	if c.MempoolSize < 100 {
		return fmt.Errorf("mempool size %d: want at least 100", c.MempoolSize)
	}
	if c.TimeoutCommit < 0 || c.EmptyBlocks < 0 {
		return errors.New("durations must not be negative")
	}
	return nil
}

// Host runs an ABCI application under an in-process CometBFT node and
// reports each committed transaction to whoever waits for it. Both sealnet's
// channels and the benchmark's baselines run through it, so they share one
// submission path.
type Host struct {
	Node *node.Node
	// OnFailure is told when the node's consensus stopped by itself.
	OnFailure func(error)

	mu      sync.Mutex
	waiters map[envelope.ID]chan TxResult
}

// NewHost returns a host with no node yet; Start gives it one. Set
// OnFailure before Start to learn that its consensus stopped.
func NewHost() *Host { return &Host{waiters: map[envelope.ID]chan TxResult{}} }

// Start creates and starts a CometBFT node for app from the genesis in the
// channel home.
func (h *Host) Start(c ChainConfig, app abci.Application, log *slog.Logger) error {
	if err := c.Validate(); err != nil {
		return err
	}
	cfg := c.CometConfig()
	if err := os.MkdirAll(filepath.Join(c.Home, "data"), 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.GenesisFile()); err != nil {
		return fmt.Errorf("channel home %s has no genesis: %w", c.Home, err)
	}
	nodeKey, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	n, err := node.NewNode(cfg, pv, nodeKey, proxy.NewConnSyncLocalClientCreator(app),
		node.DefaultGenesisDocProviderFunc(cfg), cmtcfg.DefaultDBProvider,
		node.DefaultMetricsProvider(cfg.Instrumentation), cometLogger{log, h.OnFailure})
	if err != nil {
		return fmt.Errorf("create consensus node: %w", err)
	}
	h.Node = n
	if err := n.Start(); err != nil {
		return fmt.Errorf("start consensus node: %w", err)
	}
	return nil
}

// Stop stops the CometBFT node and fails every waiting submitter.
func (h *Host) Stop() error {
	var err error
	if h.Node != nil && h.Node.IsRunning() {
		// Peers first, then a pause, then the rest: CometBFT's per-peer
		// maj23 routine reads the block store after sleeps of
		// PeerQueryMaj23SleepDuration without checking that its peer
		// stopped, and would otherwise race the store's closing.
		sw := h.Node.Switch()
		hadPeers := sw.Peers().Size() > 0
		sw.Stop()
		// the address book saves itself asynchronously once stopped
		time.Sleep(50 * time.Millisecond)
		if hadPeers {
			time.Sleep(h.Node.Config().Consensus.PeerQueryMaj23SleepDuration + 200*time.Millisecond)
		}
		err = h.Node.Stop()
		h.Node.Wait()
	}
	h.mu.Lock()
	for id, ch := range h.waiters {
		close(ch)
		delete(h.waiters, id)
	}
	h.mu.Unlock()
	return err
}

// Committed reports a committed transaction to its waiter, if any.
func (h *Host) Committed(r TxResult) {
	h.mu.Lock()
	ch := h.waiters[r.ID]
	delete(h.waiters, r.ID)
	h.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// ErrStopped is returned to submitters waiting when the node stops.
var ErrStopped = txerr.New(txerr.Unavailable, "node stopped before the transaction committed")

// Submit hands raw to the mempool and waits until it is committed or
// rejected, or ctx ends. The returned result carries the block's verdict;
// an error carries the mempool's.
func (h *Host) Submit(ctx context.Context, raw []byte) (*TxResult, error) {
	p, err := h.Enqueue(ctx, raw)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a transaction the mempool accepted, waiting for its block.
type Pending struct {
	h  *Host
	id envelope.ID
	ch chan TxResult
}

// Enqueue hands raw to the mempool and returns once the mempool accepted
// it (CheckTx passed) or refused it; Wait then waits for its block.
func (h *Host) Enqueue(ctx context.Context, raw []byte) (*Pending, error) {
	p := &Pending{h: h, id: envelope.IDOf(raw), ch: make(chan TxResult, 1)}
	h.mu.Lock()
	if _, dup := h.waiters[p.id]; dup {
		h.mu.Unlock()
		return nil, txerr.New(txerr.Duplicate, "transaction %s is already pending", p.id)
	}
	h.waiters[p.id] = p.ch
	h.mu.Unlock()
	verdict := make(chan *abci.ResponseCheckTx, 1)
	err := h.Node.Mempool().CheckTx(raw, func(r *abci.ResponseCheckTx) { verdict <- r }, mempool.TxInfo{})
	if err != nil {
		p.drop()
		return nil, mempoolErr(p.id, err)
	}
	select {
	case r := <-verdict:
		if r.Code != 0 {
			p.drop()
			return nil, &txerr.Error{Code: txerr.Code(r.Code), Msg: r.Log}
		}
	case <-ctx.Done():
		p.drop()
		return nil, ctx.Err()
	}
	return p, nil
}

// Wait waits until the transaction is committed (its result says what the
// block decided), the node stops, or ctx ends.
func (p *Pending) Wait(ctx context.Context) (*TxResult, error) {
	select {
	case r, ok := <-p.ch:
		if !ok {
			return nil, ErrStopped
		}
		return &r, nil
	case <-ctx.Done():
		p.drop()
		return nil, fmt.Errorf("transaction %s accepted but not committed yet: %w", p.id, ctx.Err())
	}
}

func (p *Pending) drop() {
	p.h.mu.Lock()
	if p.h.waiters[p.id] == p.ch {
		delete(p.h.waiters, p.id)
	}
	p.h.mu.Unlock()
}

// Submitted is what became of one transaction of a batch: its block's
// result, or the error that kept it out of one.
type Submitted struct {
	Result *TxResult
	Err    error
}

// SubmitMany submits a batch: verify (nil for none) checks every
// transaction first, on all cores; those that pass go to the mempool in
// the batch's order, and all are waited for together. Each outcome is what
// Submit with the same verify would have returned for that transaction
// alone.
func (h *Host) SubmitMany(ctx context.Context, txs [][]byte, verify func(raw []byte) error) []Submitted {
	out := make([]Submitted, len(txs))
	if verify != nil {
		parallel.For(len(txs), func(i int) { out[i].Err = verify(txs[i]) })
	}
	pending := make([]*Pending, len(txs))
	for i, raw := range txs {
		if out[i].Err == nil {
			pending[i], out[i].Err = h.Enqueue(ctx, raw)
		}
	}
	for i, p := range pending {
		if p != nil {
			out[i].Result, out[i].Err = p.Wait(ctx)
		}
	}
	return out
}

func mempoolErr(id envelope.ID, err error) error {
	var full mempool.ErrMempoolIsFull
	var large mempool.ErrTxTooLarge
	switch {
	case errors.Is(err, mempool.ErrTxInCache):
		return txerr.New(txerr.Duplicate, "transaction %s was already submitted", id)
	case errors.As(err, &full):
		return txerr.New(txerr.Unavailable, "mempool is full, retry later")
	case errors.As(err, &large):
		return txerr.New(txerr.Oversized, "%v", err)
	}
	return txerr.New(txerr.Unavailable, "mempool: %v", err)
}

// Block loads a committed block.
func (h *Host) Block(height int64) (*types.Block, error) {
	b := h.Node.BlockStore().LoadBlock(height)
	if b == nil {
		return nil, txerr.New(txerr.NotFound, "no block at height %d (the chain is at %d)", height, h.Node.BlockStore().Height())
	}
	return b, nil
}

// OpenAppDB opens the application database of a channel home. A bloom
// filter makes the lookups of absent keys (unused nonces, unrevoked
// certificates: most lookups on the hot path) cheap.
func OpenAppDB(home string) (dbm.DB, error) {
	db, err := dbm.NewGoLevelDBWithOpts("app", filepath.Join(home, "data"), &opt.Options{Filter: filter.NewBloomFilter(10), WriteBuffer: 64 << 20, CompactionTableSize: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("open application database: %w", err)
	}
	return db, nil
}

// cometLogger sends CometBFT's logs to slog. CometBFT logs every block at
// Info; that is Debug for a sealnet operator. Its consensus stops on a panic
// (a block that cannot be applied, a WAL that cannot be written) and says so
// only in this log line, leaving the process up: the line is reported to
// fail.
type cometLogger struct {
	l    *slog.Logger
	fail func(error)
}

// consensusFailure is what CometBFT logs when its consensus routine stops
// on a panic.
const consensusFailure = "CONSENSUS FAILURE!!!"

func (c cometLogger) Debug(msg string, kv ...any) {}
func (c cometLogger) Info(msg string, kv ...any)  { c.l.Debug(msg, kv...) }
func (c cometLogger) Error(msg string, kv ...any) {
	c.l.Warn(msg, kv...)
	if msg == consensusFailure && c.fail != nil {
		cause := any("unknown")
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == "err" {
				cause = kv[i+1]
			}
		}
		c.fail(fmt.Errorf("consensus stopped: %v", cause))
	}
}
func (c cometLogger) With(kv ...any) cmtlog.Logger {
	return cometLogger{c.l.With(kv...), c.fail}
}
