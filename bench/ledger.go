// Package bench holds sealnet's benchmark harnesses. Each one measures
// sealnet beside a baseline in the same run, through the same path, on the
// same machine, and prints both.
package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealnet/sealnet/internal/parallel"

	"github.com/sealnet/sealnet/local"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/daemon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/txerr"
)

// LedgerOptions shape a ledger benchmark.
type LedgerOptions struct {
	Duration time.Duration // per target
	Clients  int           // concurrent submitters, each waiting for its commit
	Dir      string        // scratch directory ("" for a temporary one)
	Progress io.Writer     // progress lines (nil for none)
	Only     string        // run only this target (ours, kvstore or kvstore_sig); "" for all
	Log      *slog.Logger
}

// Target is one measured application.
type Target struct {
	Name      string  `json:"name"`
	Submitted int     `json:"submitted"`
	Committed int     `json:"committed"`
	Rejected  int     `json:"rejected"`
	FirstErr  string  `json:"first_error,omitempty"`
	TxBytes   int     `json:"tx_bytes"`
	Seconds   float64 `json:"seconds"`
	TPS       float64 `json:"tps"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
}

// LedgerResult is the three targets and the figures the issue asks for.
type LedgerResult struct {
	Ours          Target  `json:"ours"`
	KVStore       Target  `json:"kvstore"`
	KVStoreSig    Target  `json:"kvstore_sig"`
	OursTPS       float64 `json:"ours_tps"`
	KVStoreTPS    float64 `json:"kvstore_tps"`
	KVStoreSigTPS float64 `json:"kvstore_sig_tps"`
	Ratio         float64 `json:"ratio"`
	P50ms         float64 `json:"p50_ms"`
	P99ms         float64 `json:"p99_ms"`
	Clients       int     `json:"clients"`
	DurationS     float64 `json:"duration_s"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
	TimeoutCommit string  `json:"timeout_commit"`
	MempoolSize   int     `json:"mempool_size"`
}

// maxRate bounds how many transactions are signed ahead per second of run;
// a target that exhausts them ends early and its rate stays correct.
const maxRate = 25000

// run is one started target.
type run struct {
	submit func(ctx context.Context, tx []byte) error
	stop   func() error
}

// Ledger runs sealnet's Subfile path, the kvstore and the signature-checking
// kvstore one after the other with the same CometBFT settings.
func Ledger(ctx context.Context, o LedgerOptions) (*LedgerResult, error) {
	if o.Duration <= 0 || o.Duration > 45*time.Second {
		return nil, fmt.Errorf("duration %s: want up to 45s (pre-signed transactions must stay inside the 60 s timestamp window)", o.Duration)
	}
	if o.Clients < 1 {
		return nil, fmt.Errorf("clients %d: want at least 1", o.Clients)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sealnet-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	chain := ledger.DefaultChainConfig("")
	res := &LedgerResult{Clients: o.Clients, DurationS: o.Duration.Seconds(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		TimeoutCommit: chain.TimeoutCommit.String(), MempoolSize: chain.MempoolSize}
	n := int(o.Duration.Seconds() * maxRate)
	// the unsigned kvstore runs several times faster; give it enough to last
	kvN := 3 * n

	if o.Only != "" && o.Only != "ours" && o.Only != "kvstore" && o.Only != "kvstore_sig" {
		return nil, fmt.Errorf("unknown target %q (want ours, kvstore or kvstore_sig)", o.Only)
	}
	want := func(name string) bool { return o.Only == "" || o.Only == name }
	o.progress("ours: signing %d Subfile transactions", n)
	oursRun, oursTxs, err := startOurs(filepath.Join(dir, "ours"), chain, o.Log, n)
	if err != nil {
		return nil, fmt.Errorf("ours: %w", err)
	}
	size := len(oursTxs[0])
	if want("ours") {
		if res.Ours, err = o.drive(ctx, "ours (sealnet Subfile)", oursRun, oursTxs); err != nil {
			return nil, err
		}
	} else {
		oursRun.stop()
	}
	oursTxs = nil
	if !want("kvstore") && !want("kvstore_sig") {
		return res, nil
	}

	if want("kvstore") {
		kvRun, err := startKV(filepath.Join(dir, "kvstore"), chain, o.Log, nil)
		if err != nil {
			return nil, fmt.Errorf("kvstore: %w", err)
		}
		if res.KVStore, err = o.drive(ctx, "kvstore", kvRun, kvTransactions(kvN, size, nil)); err != nil {
			return nil, err
		}
	}
	if !want("kvstore_sig") {
		return res, nil
	}

	key, err := identity.NewKey()
	if err != nil {
		return nil, err
	}
	o.progress("kvstore_sig: signing %d transactions", n)
	sigTxs := kvTransactions(n, size, key)
	sigRun, err := startKV(filepath.Join(dir, "kvstore-sig"), chain, o.Log, key)
	if err != nil {
		return nil, fmt.Errorf("kvstore_sig: %w", err)
	}
	if res.KVStoreSig, err = o.drive(ctx, "kvstore_sig", sigRun, sigTxs); err != nil {
		return nil, err
	}

	res.OursTPS, res.KVStoreTPS, res.KVStoreSigTPS = res.Ours.TPS, res.KVStore.TPS, res.KVStoreSig.TPS
	if res.KVStoreSigTPS > 0 {
		res.Ratio = res.OursTPS / res.KVStoreSigTPS
	}
	res.P50ms, res.P99ms = res.Ours.P50ms, res.Ours.P99ms
	return res, nil
}

func (o LedgerOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// drive submits txs from o.Clients goroutines for o.Duration and measures
// committed transactions per second and submit-to-commit latency.
func (o LedgerOptions) drive(ctx context.Context, name string, r *run, txs [][]byte) (Target, error) {
	defer r.stop()
	t := Target{Name: name, TxBytes: len(txs[0])}
	o.progress("%s: %d clients for %s", name, o.Clients, o.Duration)
	var (
		next      atomic.Int64
		committed atomic.Int64
		rejected  atomic.Int64
		firstErr  atomic.Value
		lat       = make([]time.Duration, len(txs))
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(o.Duration)
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if i >= int64(len(txs)) {
					return
				}
				t0 := time.Now()
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := r.submit(sctx, txs[i])
				cancel()
				if err != nil {
					rejected.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[i] = time.Since(t0)
				committed.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Submitted = int(min(next.Load(), int64(len(txs))))
	t.Committed, t.Rejected, t.Seconds = int(committed.Load()), int(rejected.Load()), elapsed.Seconds()
	if e, ok := firstErr.Load().(string); ok {
		t.FirstErr = e
	}
	t.TPS = float64(t.Committed) / elapsed.Seconds()
	var ls []time.Duration
	for _, l := range lat {
		if l > 0 {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	if len(ls) > 0 {
		t.P50ms = ms(ls[len(ls)*50/100])
		t.P99ms = ms(ls[min(len(ls)*99/100, len(ls)-1)])
	}
	o.progress("%s: %d committed in %.1fs = %.0f tx/s, p50 %.1f ms, p99 %.1f ms, %d rejected",
		name, t.Committed, t.Seconds, t.TPS, t.P50ms, t.P99ms, t.Rejected)
	if t.Committed == 0 {
		return t, fmt.Errorf("%s committed nothing (first error: %s)", name, t.FirstErr)
	}
	return t, ctx.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startOurs initializes a one-org consortium and signs n Subfile calls.
func startOurs(dir string, chain ledger.ChainConfig, log *slog.Logger, n int) (*run, [][]byte, error) {
	h := node.Home(dir)
	cfg, err := node.Init(h, "org1")
	if err != nil {
		return nil, nil, err
	}
	id, err := identity.LoadIdentity(h.Keys(), cfg.Identity)
	if err != nil {
		return nil, nil, err
	}
	txs, err := signSubfiles(id, n)
	if err != nil {
		return nil, nil, err
	}
	cc := h.Chain(cfg.Channels[0], "bench")
	cc.TimeoutCommit, cc.MempoolSize, cc.EmptyBlocks = chain.TimeoutCommit, chain.MempoolSize, chain.EmptyBlocks
	if cc.P2PListen, err = freeAddr(); err != nil {
		return nil, nil, err
	}
	ch, err := ledger.OpenChannel("default", cc, daemon.Contracts(), log)
	if err != nil {
		return nil, nil, err
	}
	if err := waitFirstBlock(ch.Host); err != nil {
		ch.Close()
		return nil, nil, err
	}
	return &run{submit: channelSubmit(ch), stop: ch.Close}, txs, nil
}

// channelSubmit submits through a sealnet channel; a transaction the block
// rejected counts as an error.
func channelSubmit(ch *ledger.Channel) func(context.Context, []byte) error {
	return func(ctx context.Context, tx []byte) error {
		r, err := ch.Submit(ctx, tx)
		if err != nil {
			return err
		}
		if r.Code != txerr.OK {
			return &txerr.Error{Code: r.Code, Msg: r.Log}
		}
		return nil
	}
}

// SampleCID is a valid CIDv1 used by benchmarks and tests for index entries.
const SampleCID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

func signSubfiles(id *identity.Identity, n int) ([][]byte, error) {
	txs := make([][]byte, n)
	now := time.Now()
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				args := index.SubfileArgs{HashAddress: SampleCID, Summary: fmt.Sprintf("spindle counter batch %08d of line 4", i),
					Keywords: []string{"maintenance", fmt.Sprintf("machine-%03d", i%500)}, Size: 262144, Type: "application/octet-stream"}
				tx, err := apiclient.SignCall(id, "default", index.Name, "subfile", args, now)
				if err != nil {
					errs[w] = err
					return
				}
				txs[i] = tx
			}
		}()
	}
	wg.Wait()
	return txs, errors.Join(errs...)
}

// kvTransactions makes n kvstore transactions of exactly size bytes; with a
// key each is prefixed by hex(r||s) of a signature over the rest.
func kvTransactions(n, size int, key *ecdsa.PrivateKey) [][]byte {
	txs := make([][]byte, n)
	body := size
	if key != nil {
		body -= sigHexLen
	}
	parallel.For(n, func(i int) {
		kv := fmt.Appendf(nil, "k%012d=", i)
		for len(kv) < body {
			kv = append(kv, 'v')
		}
		if key == nil {
			txs[i] = kv
			return
		}
		d := sha256.Sum256(kv)
		sig, err := identity.Sign(key, d[:])
		if err != nil {
			panic(err) // signing with a valid P-256 key cannot fail
		}
		txs[i] = append([]byte(hex.EncodeToString(sig)), kv...)
	})
	return txs
}

// startKV runs the kvstore (with key: the signature-checking wrapper) under
// the same host and CometBFT settings as sealnet's channels.
func startKV(dir string, chain ledger.ChainConfig, log *slog.Logger, key *ecdsa.PrivateKey) (*run, error) {
	val, _, err := node.NewValidator(dir, "bench")
	if err != nil {
		return nil, err
	}
	g := &cmttypes.GenesisDoc{ChainID: "bench", GenesisTime: time.Now(), InitialHeight: 1,
		ConsensusParams: cmttypes.DefaultConsensusParams(), Validators: []cmttypes.GenesisValidator{val}}
	if err := g.ValidateAndComplete(); err != nil {
		return nil, err
	}
	if err := node.WriteGenesis(dir, g); err != nil {
		return nil, err
	}
	db, err := dbm.NewDB("kvstore", dbm.GoLevelDBBackend, filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	host := ledger.NewHost()
	base := kvApp{Application: kvstore.NewApplication(db), host: host}
	var app abci.Application = &base
	var sa *sigApp
	if key != nil {
		sa = &sigApp{kvApp: base, pub: &key.PublicKey, seen: map[[32]byte]bool{}}
		app = sa
	}
	cc := chain
	cc.Home, cc.OpenNetwork = dir, true
	if cc.P2PListen, err = freeAddr(); err != nil {
		return nil, err
	}
	if err := host.Start(cc, app, log); err != nil {
		db.Close()
		return nil, err
	}
	if err := waitFirstBlock(host); err != nil {
		host.Stop()
		return nil, err
	}
	submit := func(ctx context.Context, tx []byte) error {
		if sa != nil && !sa.PreVerify(tx) {
			return errors.New("bad signature")
		}
		r, err := host.Submit(ctx, tx)
		if err != nil {
			return err
		}
		if r.Code != 0 {
			return fmt.Errorf("kvstore rejected the transaction (code %d)", r.Code)
		}
		return nil
	}
	return &run{submit: submit, stop: func() error { return errors.Join(host.Stop(), db.Close()) }}, nil
}

func waitFirstBlock(h *ledger.Host) error {
	for i := 0; i < 300; i++ {
		if h.Node.BlockStore().Height() >= 1 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("no first block within 6 s")
}

func freeAddr() (string, error) {
	p, err := freePort()
	return fmt.Sprintf("tcp://127.0.0.1:%d", p), err
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	p, err := local.FreePorts("127.0.0.1", 1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}
