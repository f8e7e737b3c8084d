package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/envelope"
)

// ProvenTx is a transaction with its result, proven in a committed block:
// the proof of the transaction in the block's data hash, of its code-0
// result in the next block's results hash, both headers and the next
// block's signed commit.
type ProvenTx struct {
	Tx          []byte      `cbor:"tx"`
	TxProof     MerkleProof `cbor:"tx_proof"`
	Result      []byte      `cbor:"result"`
	ResultProof MerkleProof `cbor:"result_proof"`
	Header      []byte      `cbor:"header"`
	NextHeader  []byte      `cbor:"next_header"`
	Commit      []byte      `cbor:"commit"`
}

// provenTx is what verify established of a ProvenTx.
type provenTx struct {
	header, next *types.Header
	id           string // hex
	tx           *envelope.Tx
}

func genesisValidators(g *types.GenesisDoc) (*types.ValidatorSet, error) {
	if len(g.Validators) == 0 {
		return nil, fail("genesis has no validators")
	}
	vals := make([]*types.Validator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = types.NewValidator(v.PubKey, v.Power)
	}
	return types.NewValidatorSet(vals), nil
}

// verify checks, against the genesis validators: the commit of the next
// block, the block holding the transaction as its parent, the transaction
// in it, its code-0 result, and the transaction's envelope (its
// signature is its creator's, whom the chain admitted).
func (p *ProvenTx) verify(g *types.GenesisDoc, vset *types.ValidatorSet) (*provenTx, error) {
	next, err := header(p.NextHeader, "next header")
	if err != nil {
		return nil, err
	}
	var pc cmtproto.Commit
	if err := pc.Unmarshal(p.Commit); err != nil {
		return nil, fail("commit: %v", err)
	}
	if again, err := pc.Marshal(); err != nil || !bytes.Equal(again, p.Commit) {
		return nil, fail("commit is not canonically encoded")
	}
	commit, err := types.CommitFromProto(&pc)
	if err != nil {
		return nil, fail("commit: %v", err)
	}
	if next.ChainID != g.ChainID {
		return nil, fail("header of chain %q, genesis of %q", next.ChainID, g.ChainID)
	}
	if !bytes.Equal(next.ValidatorsHash, vset.Hash()) {
		return nil, fail("block %d was signed by another validator set than the genesis one", next.Height)
	}
	if !bytes.Equal(commit.BlockID.Hash, next.Hash()) {
		return nil, fail("commit is for block %X, not block %d (%X)", commit.BlockID.Hash, next.Height, next.Hash())
	}
	if err := vset.VerifyCommit(g.ChainID, commit.BlockID, next.Height, commit); err != nil {
		return nil, fail("commit signatures: %v", err)
	}
	hdr, err := header(p.Header, "header")
	if err != nil {
		return nil, err
	}
	if hdr.Height+1 != next.Height || hdr.ChainID != g.ChainID || !bytes.Equal(next.LastBlockID.Hash, hdr.Hash()) {
		return nil, fail("header %d is not the parent of block %d", hdr.Height, next.Height)
	}
	txHash := sha256.Sum256(p.Tx)
	if err := p.TxProof.verify(hdr.DataHash, txHash[:]); err != nil {
		return nil, fail("transaction not in block %d: %v", hdr.Height, err)
	}
	id := hex.EncodeToString(txHash[:])
	res, _ := (&abci.ExecTxResult{Code: 0, Data: p.Result}).Marshal()
	if p.ResultProof.Index != p.TxProof.Index || p.ResultProof.Total != p.TxProof.Total {
		return nil, fail("result proof is for another transaction")
	}
	if err := p.ResultProof.verify(next.LastResultsHash, res); err != nil {
		return nil, fail("transaction %s did not succeed with this result: %v", id[:16], err)
	}
	tx, err := envelope.Decode(p.Tx, 0)
	if err != nil {
		return nil, fail("transaction: %v", err)
	}
	return &provenTx{header: hdr, next: next, id: id, tx: tx}, nil
}
