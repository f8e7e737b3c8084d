// Package ledger runs sealnet's channels on CometBFT: the ABCI application
// that authenticates every transaction and executes the contracts, the
// embedding of one CometBFT node per channel, submit-and-wait, and the
// stream of committed results and events.
//
// The flow of one transaction:
//
//  1. Submit decodes and verifies the envelope's signature in the caller's
//     goroutine (in parallel across API clients) and remembers it by ID.
//  2. CheckTx re-checks only what can change (certificate status, timestamp
//     against the local clock, nonce) and admits it to the mempool.
//  3. FinalizeBlock verifies the signatures it has not seen (transactions
//     gossiped from other nodes) in parallel, then runs each transaction in
//     order against the block's state with the block time: certificate,
//     revocation, role, channel, timestamp window, nonce, then the contract.
//  4. Commit writes the block's state, nonces and the local transaction index
//     in one batch and wakes the submitters waiting on their IDs.
package ledger

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealnet/sealnet/internal/parallel"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/statedb"
	"github.com/sealnet/sealnet/txerr"
)

// Key spaces of the application database. Only "s/" is consensus state and
// enters the app hash; "m/" is metadata and "x/" the local transaction index.
var (
	pState    = []byte("s/")
	pNonce    = []byte("s/sys/nonce/")
	pNonceExp = []byte("s/sys/nexp/") // per block: the nonces it spent
	kHeight   = []byte("m/height")
	kAppHash  = []byte("m/apphash")
	kParams   = []byte("m/params")
	pTxByID   = []byte("x/t/")
	pTxByPos  = []byte("x/b/")
)

// TxResult is the outcome of one transaction in a committed block.
type TxResult struct {
	ID     envelope.ID      `cbor:"id" json:"tx_id"`
	Height int64            `cbor:"height" json:"height"`
	Index  int              `cbor:"index" json:"index"`
	Code   txerr.Code       `cbor:"code" json:"code"`
	Log    string           `cbor:"log,omitempty" json:"error,omitempty"`
	Data   []byte           `cbor:"data,omitempty" json:"-"`
	Events []contract.Event `cbor:"events,omitempty" json:"events,omitempty"`
	Time   int64            `cbor:"time" json:"time"` // block time, Unix nanoseconds
}

// Block is what a committed block did.
type Block struct {
	Channel string
	Height  int64
	Time    time.Time
	AppHash []byte
	Txs     []TxResult
	// Events are what the contracts' end-of-block processing emitted
	// (contract.EndBlocker). They reach OnCommit listeners; the local
	// transaction index does not keep them.
	Events []contract.Event
}

// App is the ABCI application of one channel. It is safe for CometBFT's
// per-connection local client: CheckTx reads only committed state and the
// signature cache, while FinalizeBlock and Commit own the block overlay.
type App struct {
	abci.BaseApplication

	db        dbm.DB
	log       *slog.Logger
	reg       *registry.Contract
	contracts map[string]contract.Contract
	methods   map[string]map[string]contract.Method
	enders    []string // contracts with an EndBlock, in name order
	now       func() time.Time
	verified  *sigCache
	mirror    *statedb.Mirror // committed nonces and revocations, in memory
	refused   sync.Map        // CometBFT node ID -> time of the last warning
	closing   atomic.Bool     // the node is stopping: refuse every peer

	mu        sync.RWMutex // guards params and the committed height/hash
	params    AppState
	height    int64
	appHash   []byte
	committed *statedb.Overlay // empty overlay over the committed database

	block     *statedb.Overlay // writes of the block being executed
	blockRes  *Block
	spent     []byte // nonce entries (fingerprint||nonce) spent in the block
	listeners []func(*Block)

	failOnce sync.Once
	failed   chan struct{} // closed when a block could not be committed
	failure  error
}

// NewApp opens an application over db running contracts. The list is the
// composition root's: it must hold the registry, which the application
// itself consults to authenticate every transaction and peer.
func NewApp(db dbm.DB, contracts []contract.Contract, log *slog.Logger) (*App, error) {
	a := &App{
		db: db, log: log, now: time.Now,
		verified: newSigCache(), failed: make(chan struct{}),
	}
	a.contracts = map[string]contract.Contract{}
	a.methods = map[string]map[string]contract.Method{}
	for _, c := range contracts {
		if _, dup := a.contracts[c.Name()]; dup {
			return nil, fmt.Errorf("contract %s listed twice", c.Name())
		}
		if reg, ok := c.(*registry.Contract); ok {
			a.reg = reg
		}
		a.register(c)
	}
	if a.reg == nil {
		return nil, fmt.Errorf("the contract list has no %s contract: transactions could not be authenticated", registry.Name)
	}
	if err := a.load(); err != nil {
		return nil, err
	}
	var err error
	if a.mirror, err = statedb.NewMirror(db, pNonce, append(contractPrefix(registry.Name), registry.RevokedPrefix...)); err != nil {
		return nil, fmt.Errorf("load nonces and revocations: %w", err)
	}
	base := statedb.Base{DB: db, Mirror: a.mirror}
	a.committed = statedb.NewOverlay(base)
	a.block = statedb.NewOverlay(base)
	return a, nil
}

// register adds a contract of a name not yet registered (NewApp refuses
// a list naming one twice).
func (a *App) register(c contract.Contract) {
	a.contracts[c.Name()] = c
	a.methods[c.Name()] = c.Methods()
	if _, ok := c.(contract.EndBlocker); ok {
		a.enders = append(a.enders, c.Name())
		slices.Sort(a.enders)
	}
}

func (a *App) load() error {
	raw, err := a.db.Get(kParams)
	if err != nil {
		return fmt.Errorf("read params: %w", err)
	}
	if raw == nil {
		return nil // before InitChain
	}
	if a.appHash, err = a.db.Get(kAppHash); err != nil {
		return fmt.Errorf("read app hash: %w", err)
	}
	if h, err := a.db.Get(kHeight); err != nil {
		return fmt.Errorf("read height: %w", err)
	} else if h != nil {
		if len(h) != 8 {
			return fmt.Errorf("application database is corrupt: height record is %d bytes", len(h))
		}
		a.height = int64(binary.BigEndian.Uint64(h))
	}
	if a.params, err = ParseAppState(raw); err != nil {
		return fmt.Errorf("application database is corrupt: %w", err)
	}
	return nil
}

// OnCommit registers fn to be called, in order, with each committed block.
// fn must not block for long: it runs on CometBFT's commit path.
func (a *App) OnCommit(fn func(*Block)) {
	a.mu.Lock()
	a.listeners = append(a.listeners, fn)
	a.mu.Unlock()
}

// Params returns the channel's genesis parameters.
func (a *App) Params() AppState {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.params
}

// Height returns the last committed height and app hash.
func (a *App) Height() (int64, []byte) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.height, a.appHash
}

// Info implements abci.Application.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	h, hash := a.Height()
	return &abci.ResponseInfo{Data: "sealnet", Version: "1", AppVersion: 1, LastBlockHeight: h, LastBlockAppHash: hash}, nil
}

// InitChain implements abci.Application: it loads the registry genesis and
// writes it at once, so CheckTx sees the genesis members before block 1. A
// repeated InitChain (a crash before block 1 committed) starts from scratch.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	p, err := ParseAppState(req.AppStateBytes)
	if err != nil {
		return nil, err
	}
	if p.Channel != req.ChainId {
		return nil, fmt.Errorf("genesis channel %q differs from chain id %q", p.Channel, req.ChainId)
	}
	a.block.Reset()
	it, err := a.block.Iterator(pState)
	if err != nil {
		return nil, err
	}
	for ; it.Valid(); it.Next() {
		a.block.Delete(append([]byte{}, it.Key()...))
	}
	it.Close()
	view := statedb.View{Layer: a.block, Prefix: contractPrefix(registry.Name)}
	if err := a.reg.InitGenesis(view, p.Registry, req.Time); err != nil {
		return nil, fmt.Errorf("registry genesis: %w", err)
	}
	hash := a.block.Hash(nil, 0)
	b := a.db.NewBatch()
	defer b.Close()
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(a.block.WriteTo(b), b.Set(kParams, pj), b.Set(kAppHash, hash), b.WriteSync()); err != nil {
		return nil, fmt.Errorf("write genesis state: %w", err)
	}
	a.mirror.Apply(a.block)
	a.block.Reset()
	a.mu.Lock()
	a.params, a.appHash = p, hash
	a.mu.Unlock()
	return &abci.ResponseInitChain{AppHash: hash}, nil
}

func contractPrefix(name string) []byte { return []byte("s/" + name + "/") }

// PreVerify decodes raw and verifies its signature against committed state,
// caching the outcome for CheckTx and FinalizeBlock. It is safe to call from
// many goroutines and is what spreads signature checks across cores.
func (a *App) PreVerify(raw []byte) (*envelope.Tx, error) {
	c, err := a.authenticate(raw, a.committed)
	if err != nil {
		return nil, err
	}
	a.verified.put(c)
	return c.tx, nil
}

// checked is a decoded transaction whose signature verified.
type checked struct {
	tx     *envelope.Tx
	member *identity.Member
}

// authenticate decodes raw, resolves its creator in layer and verifies the
// signature.
func (a *App) authenticate(raw []byte, layer *statedb.Overlay) (*checked, error) {
	tx, err := envelope.Decode(raw, a.Params().MaxTxBytes)
	if err != nil {
		return nil, err
	}
	m, _, err := a.reg.Resolve(statedb.View{Layer: layer, Prefix: contractPrefix(registry.Name)}, tx.Creator)
	if err != nil {
		return nil, err
	}
	if err := tx.VerifySignature(m.Cert.PublicKey.(*ecdsa.PublicKey)); err != nil {
		return nil, err
	}
	return &checked{tx: tx, member: m}, nil
}

// CheckTx implements abci.Application.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	c := a.verified.get(envelope.IDOf(req.Tx))
	if c == nil {
		var err error
		if c, err = a.authenticate(req.Tx, a.committed); err != nil {
			return checkErr(err), nil
		}
		a.verified.put(c)
	}
	p := a.Params()
	_, err := a.admit(c, a.committed, p, a.now(), p.Tau())
	if err != nil {
		return checkErr(err), nil
	}
	return &abci.ResponseCheckTx{Code: 0}, nil
}

func checkErr(err error) *abci.ResponseCheckTx {
	return &abci.ResponseCheckTx{Code: uint32(txerr.CodeOf(err)), Log: txerr.Message(err)}
}

// admit runs the checks that depend on state and time: channel, revocation,
// certificate validity, timestamp window, nonce, contract, method and role.
func (a *App) admit(c *checked, layer *statedb.Overlay, p AppState, now time.Time, tau time.Duration) (contract.Method, error) {
	pl := &c.tx.Payload
	if pl.Channel != p.Channel {
		return contract.Method{}, txerr.New(txerr.WrongChannel, "transaction is for channel %q, this is %q", pl.Channel, p.Channel)
	}
	// authenticate found the certificate enrolled, and enrollment is never
	// undone: only its revocation can have changed since.
	revoked, err := a.reg.Revoked(statedb.View{Layer: layer, Prefix: contractPrefix(registry.Name)}, c.tx.Creator)
	if err != nil {
		return contract.Method{}, err
	}
	if revoked {
		return contract.Method{}, txerr.New(txerr.RevokedCert, "certificate %s of %s was revoked", c.tx.Creator, c.member.ID)
	}
	if now.Before(c.member.Cert.NotBefore) || now.After(c.member.Cert.NotAfter) {
		return contract.Method{}, txerr.New(txerr.ExpiredCert, "certificate of %s is valid %s to %s, not at %s",
			c.member.ID, c.member.Cert.NotBefore.UTC().Format(time.RFC3339), c.member.Cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	ts := pl.Time()
	if d := now.Sub(ts); d > tau || d < -tau {
		return contract.Method{}, txerr.New(txerr.StaleTimestamp, "timestamp %s is %s from the block time, window is %s",
			ts.Format(time.RFC3339Nano), d.Round(time.Millisecond), tau)
	}
	if v, err := layer.Get(nonceKey(c.tx.Creator, pl.Nonce)); err != nil {
		return contract.Method{}, txerr.New(txerr.Internal, "read nonce: %v", err)
	} else if v != nil {
		return contract.Method{}, txerr.New(txerr.Replay, "nonce %d of %s was already used", pl.Nonce, c.member.ID)
	}
	methods, ok := a.methods[pl.Contract]
	if !ok {
		return contract.Method{}, txerr.New(txerr.UnknownContract, "no contract %q", pl.Contract)
	}
	m, ok := methods[pl.Method]
	if !ok {
		return contract.Method{}, txerr.New(txerr.UnknownMethod, "contract %s has no method %q", pl.Contract, pl.Method)
	}
	if !m.Allows(c.member.Role) {
		return contract.Method{}, txerr.New(txerr.RoleDenied, "role %s may not call %s.%s", c.member.Role, pl.Contract, pl.Method)
	}
	return m, nil
}

// FinalizeBlock implements abci.Application.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	p := a.Params()
	_, prevHash := a.Height()
	auth := a.authenticateAll(req.Txs)
	blk := &Block{Channel: p.Channel, Height: req.Height, Time: req.Time, Txs: make([]TxResult, len(req.Txs))}
	results := make([]*abci.ExecTxResult, len(req.Txs))
	txLayer := statedb.NewOverlay(a.block)
	for i, raw := range req.Txs {
		r := a.deliver(raw, auth[i], txLayer, p, req)
		r.Height, r.Index, r.Time = req.Height, i, req.Time.UnixNano()
		blk.Txs[i] = r
		results[i] = &abci.ExecTxResult{Code: uint32(r.Code), Data: r.Data, Log: r.Log}
	}
	blk.Events = a.endBlock(p, req)
	if err := a.closeNonces(req.Height, req.Time, p.Tau()); err != nil {
		return nil, err
	}
	blk.AppHash = a.block.Hash(prevHash, req.Height)
	a.blockRes = blk
	return &abci.ResponseFinalizeBlock{TxResults: results, AppHash: blk.AppHash}, nil
}

type authResult struct {
	c   *checked
	err error
}

// authenticateAll takes what PreVerify or CheckTx already verified and
// verifies the rest on all cores.
func (a *App) authenticateAll(txs [][]byte) []authResult {
	out := make([]authResult, len(txs))
	var misses []int
	for i, raw := range txs {
		if c := a.verified.take(envelope.IDOf(raw)); c != nil {
			out[i].c = c
		} else {
			misses = append(misses, i)
		}
	}
	if len(misses) == 0 {
		return out
	}
	parallel.For(len(misses), func(j int) {
		i := misses[j]
		out[i].c, out[i].err = a.authenticate(txs[i], a.committed)
	})
	return out
}

// deliver runs one transaction in its own overlay and merges it into the
// block on success.
func (a *App) deliver(raw []byte, auth authResult, txLayer *statedb.Overlay, p AppState, req *abci.RequestFinalizeBlock) TxResult {
	c, err := auth.c, auth.err
	if txerr.CodeOf(err) == txerr.UnknownCert {
		// enrolled earlier in this block: resolve against the block's state
		c, err = a.authenticate(raw, a.block)
	}
	if err != nil {
		return resultOf(envelope.IDOf(raw), nil, nil, err)
	}
	m, err := a.admit(c, a.block, p, req.Time, p.Tau())
	if err != nil {
		return resultOf(c.tx.ID, nil, nil, err)
	}
	pl := &c.tx.Payload
	// The nonce is spent once the transaction is authenticated, whatever
	// the contract decides, so a failed transaction cannot be replayed either.
	a.spendNonce(c.tx.Creator, pl.Nonce)
	caller := contract.Caller{ID: c.member.ID, Org: c.member.Org, Role: c.member.Role, Fingerprint: c.member.Fingerprint,
		Key: c.member.Cert.PublicKey.(*ecdsa.PublicKey)}
	ctx := contract.NewContext(pl.Contract, caller, p.Channel, req.Height, req.Time, c.tx.ID, c.tx.Signature).
		WithHost(host{a, txLayer})
	data, err := m.Run(ctx, statedb.View{Layer: txLayer, Prefix: contractPrefix(pl.Contract)}, pl.Args)
	if err == nil {
		err = ctx.Err() // a failed call between contracts fails the transaction
	}
	if err != nil {
		txLayer.Reset()
		if txerr.CodeOf(err) == txerr.Internal {
			a.log.Error("contract failed", "contract", pl.Contract, "method", pl.Method, "tx", c.tx.ID, "err", err)
		}
		return resultOf(c.tx.ID, nil, nil, err)
	}
	txLayer.Flush(a.block)
	return resultOf(c.tx.ID, data, ctx.Events(), nil)
}

// endBlock runs every contract's EndBlock in name order, each in its own
// overlay that is merged on success and dropped on error.
func (a *App) endBlock(p AppState, req *abci.RequestFinalizeBlock) []contract.Event {
	var events []contract.Event
	layer := statedb.NewOverlay(a.block)
	for _, name := range a.enders {
		ctx := contract.NewContext(name, contract.Caller{}, p.Channel, req.Height, req.Time, [32]byte{}, nil).
			WithHost(host{a, layer})
		err := a.contracts[name].(contract.EndBlocker).EndBlock(ctx, statedb.View{Layer: layer, Prefix: contractPrefix(name)})
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			layer.Reset()
			a.log.Error("end of block failed", "contract", name, "height", req.Height, "err", err)
			continue
		}
		layer.Flush(a.block)
		events = append(events, ctx.Events()...)
	}
	return events
}

// host gives a contract's context the other contracts' state and methods
// in the layer its call writes to.
type host struct {
	a     *App
	layer *statedb.Overlay
}

func (h host) State(name string) contract.State {
	return statedb.View{Layer: h.layer, Prefix: contractPrefix(name)}
}

func (h host) Method(name, method string) (contract.Method, bool) {
	m, ok := h.a.methods[name][method]
	return m, ok
}

func resultOf(id envelope.ID, data []byte, events []contract.Event, err error) TxResult {
	r := TxResult{ID: id, Data: data, Events: events, Code: txerr.CodeOf(err)}
	if err != nil {
		r.Log = txerr.Message(err)
	}
	return r
}

// Commit implements abci.Application: one atomic batch for the block.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	blk := a.blockRes
	if blk == nil {
		return nil, errors.New("commit without a finalized block")
	}
	b := a.db.NewBatch()
	defer b.Close()
	if err := a.block.WriteTo(b); err != nil {
		return nil, fmt.Errorf("commit state: %w", err)
	}
	// The local index: one record per block with every result, and one
	// small key per transaction pointing at it.
	if len(blk.Txs) > 0 {
		if err := b.Set(blockKey(blk.Height), canon.MustMarshal(blk.Txs)); err != nil {
			return nil, err
		}
		for i := range blk.Txs {
			r := &blk.Txs[i]
			pos := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(r.Height)), uint32(r.Index))
			if err := b.Set(append(append([]byte{}, pTxByID...), r.ID[:]...), pos); err != nil {
				return nil, err
			}
		}
	}
	if err := b.Set(kHeight, binary.BigEndian.AppendUint64(nil, uint64(blk.Height))); err != nil {
		return nil, err
	}
	if err := b.Set(kAppHash, blk.AppHash); err != nil {
		return nil, err
	}
	// No fsync: CometBFT has the block on disk before Commit, and replays
	// it at start-up if the application's height is behind.
	if err := b.Write(); err != nil {
		return nil, a.fail(fmt.Errorf("commit block %d: %w", blk.Height, err))
	}
	a.mirror.Apply(a.block)
	a.block.Reset()
	a.blockRes = nil
	a.mu.Lock()
	a.height, a.appHash = blk.Height, blk.AppHash
	listeners := a.listeners
	a.mu.Unlock()
	a.verified.expire()
	for _, fn := range listeners {
		fn(blk)
	}
	return &abci.ResponseCommit{}, nil
}

func blockKey(height int64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, pTxByPos...), uint64(height))
}

// fail records that the channel cannot go on: a block could not be
// committed, or CometBFT's consensus stopped by itself. CometBFT keeps the
// process alive then, a node that would look up while deciding nothing:
// Failed tells the node's owner to stop it, and the block is applied again
// from CometBFT's store at the next start.
func (a *App) fail(err error) error {
	a.failOnce.Do(func() {
		a.failure = err
		a.log.Error("the channel cannot commit: stopping; nothing committed is lost, the next start replays what is missing", "err", err)
		close(a.failed)
	})
	return err
}

// Failed is closed once a block could not be committed; Failure says why.
func (a *App) Failed() <-chan struct{} { return a.failed }

// Failure is why the application stopped committing (nil while it runs).
func (a *App) Failure() error {
	select {
	case <-a.failed:
		return a.failure
	default:
		return nil
	}
}
