package ledger

import (
	"context"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/txerr"
)

// TxProof proves a committed transaction and its result to someone who
// holds only the channel's genesis: the block holding it, the proof of the
// transaction in the block's data hash, the proof of its result in the
// next block's results hash, and the validators' commit of the next block.
type TxProof struct {
	Tx          []byte
	TxProof     merkle.Proof
	Result      []byte // the result data the contract returned (code 0)
	ResultProof merkle.Proof
	Header      types.Header
	NextHeader  types.Header
	Commit      *types.Commit // commit of NextHeader
}

// ProveTx builds the proof of a successful transaction. The next block's
// commit is needed, so it waits (until ctx ends) for that block.
func (c *Channel) ProveTx(ctx context.Context, id envelope.ID) (*TxProof, error) {
	raw, res, err := c.Tx(id)
	if err != nil {
		return nil, err
	}
	if res.Code != txerr.OK {
		return nil, txerr.New(txerr.Rejected, "transaction %s failed (code %d): nothing to prove", id, res.Code)
	}
	blk, err := c.Block(res.Height)
	if err != nil {
		return nil, err
	}
	results, err := c.App.blockResults(res.Height)
	if err != nil {
		return nil, err
	}
	if len(results) != len(blk.Txs) || res.Index >= len(results) {
		return nil, txerr.New(txerr.Internal, "block %d: %d results for %d transactions", res.Height, len(results), len(blk.Txs))
	}
	exec := make([]*abci.ExecTxResult, len(results))
	for i, r := range results {
		exec[i] = &abci.ExecTxResult{Code: uint32(r.Code), Data: r.Data}
	}
	p := &TxProof{Tx: raw, TxProof: blk.Data.Txs.Proof(res.Index).Proof, Result: res.Data,
		ResultProof: types.NewResults(exec).ProveResult(res.Index), Header: blk.Header}
	bs := c.Host.Node.BlockStore()
	for {
		if bs.Height() > res.Height {
			if next := bs.LoadBlock(res.Height + 1); next != nil {
				p.NextHeader = next.Header
				if p.Commit = bs.LoadBlockCommit(res.Height + 1); p.Commit == nil {
					p.Commit = bs.LoadSeenCommit(res.Height + 1)
				}
				if p.Commit != nil {
					return p, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for block %d to prove transaction %s: %w", res.Height+1, id, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
