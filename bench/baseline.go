package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/sealnet/sealnet/internal/parallel"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
)

// kvApp is CometBFT's example kvstore, reporting its commits to the
// harness's host like sealnet's channels do.
type kvApp struct {
	*kvstore.Application
	host    *ledger.Host
	pending []ledger.TxResult
}

func (a *kvApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	resp, err := a.Application.FinalizeBlock(ctx, req)
	if err != nil {
		return nil, err
	}
	a.record(req, resp)
	return resp, nil
}

func (a *kvApp) record(req *abci.RequestFinalizeBlock, resp *abci.ResponseFinalizeBlock) {
	a.pending = a.pending[:0]
	for i, tx := range req.Txs {
		a.pending = append(a.pending, ledger.TxResult{ID: envelope.IDOf(tx), Height: req.Height, Index: i})
		if i < len(resp.TxResults) {
			a.pending[i].Code = 0
			if resp.TxResults[i].Code != 0 {
				a.pending[i].Code = 99
			}
		}
	}
}

func (a *kvApp) Commit(ctx context.Context, req *abci.RequestCommit) (*abci.ResponseCommit, error) {
	resp, err := a.Application.Commit(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, r := range a.pending {
		a.host.Committed(r)
	}
	return resp, nil
}

// sigApp is the kvstore wrapped to verify one ECDSA P-256 signature per
// transaction, once: in the submitting goroutine (PreVerify) when it can,
// else in CheckTx, and in FinalizeBlock, in parallel, for what it has not
// seen. That is the floor any application checking every signature pays.
// A transaction is hex(r||s) followed by the kvstore's key=value bytes.
type sigApp struct {
	kvApp
	pub  *ecdsa.PublicKey
	mu   sync.Mutex
	seen map[[32]byte]bool
}

const sigHexLen = 2 * identity.SignatureSize

func (a *sigApp) verify(tx []byte) bool {
	if len(tx) <= sigHexLen {
		return false
	}
	sig := make([]byte, identity.SignatureSize)
	if _, err := hex.Decode(sig, tx[:sigHexLen]); err != nil {
		return false
	}
	d := sha256.Sum256(tx[sigHexLen:])
	return identity.Verify(a.pub, d[:], sig) == nil
}

// PreVerify checks a signature before submission and remembers it.
func (a *sigApp) PreVerify(tx []byte) bool {
	if !a.verify(tx) {
		return false
	}
	a.mu.Lock()
	a.seen[sha256.Sum256(tx)] = true
	a.mu.Unlock()
	return true
}

func (a *sigApp) known(tx []byte, take bool) bool {
	h := sha256.Sum256(tx)
	a.mu.Lock()
	defer a.mu.Unlock()
	ok := a.seen[h]
	if ok && take {
		delete(a.seen, h)
	}
	return ok
}

func (a *sigApp) check(ctx context.Context, tx []byte) bool {
	if !a.known(tx, false) && !a.PreVerify(tx) {
		return false
	}
	r, err := a.Application.CheckTx(ctx, &abci.RequestCheckTx{Tx: tx[sigHexLen:]})
	return err == nil && r.Code == 0
}

func (a *sigApp) CheckTx(ctx context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	if !a.check(ctx, req.Tx) {
		return &abci.ResponseCheckTx{Code: 1, Log: "bad signature or format"}, nil
	}
	return &abci.ResponseCheckTx{Code: 0}, nil
}

// PrepareProposal and ProcessProposal are overridden because the kvstore's
// own versions call its CheckTx directly, which Go embedding does not route
// to this wrapper's.
func (a *sigApp) PrepareProposal(ctx context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	txs := make([][]byte, 0, len(req.Txs))
	for _, tx := range req.Txs {
		if len(tx) > sigHexLen {
			txs = append(txs, tx)
		}
	}
	return &abci.ResponsePrepareProposal{Txs: txs}, nil
}

func (a *sigApp) ProcessProposal(context.Context, *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	return &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}, nil
}

func (a *sigApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	ok := make([]bool, len(req.Txs))
	var misses []int
	for i, tx := range req.Txs {
		if a.known(tx, true) {
			ok[i] = true
		} else {
			misses = append(misses, i)
		}
	}
	parallel.For(len(misses), func(j int) { ok[misses[j]] = a.verify(req.Txs[misses[j]]) })
	inner := *req
	inner.Txs = make([][]byte, 0, len(req.Txs))
	for i, tx := range req.Txs {
		if ok[i] {
			inner.Txs = append(inner.Txs, tx[sigHexLen:])
		}
	}
	resp, err := a.Application.FinalizeBlock(ctx, &inner)
	if err != nil {
		return nil, err
	}
	// CometBFT wants one result per transaction of the block.
	all := make([]*abci.ExecTxResult, len(req.Txs))
	j := 0
	for i := range req.Txs {
		if ok[i] && j < len(resp.TxResults) {
			all[i] = resp.TxResults[j]
			j++
		} else {
			all[i] = &abci.ExecTxResult{Code: 1, Log: "bad signature"}
		}
	}
	resp.TxResults = all
	a.record(req, resp)
	return resp, nil
}

// Keep the compiler honest about the interfaces the host needs.
var (
	_ abci.Application = (*kvApp)(nil)
	_ abci.Application = (*sigApp)(nil)
)
