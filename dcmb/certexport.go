package dcmb

// This file holds what an audit bundle of a certified stream adds: the
// transactions that proposed and certified the module its anchor names,
// found in their blocks and proven like the anchor.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/ledger"
)

// certification collects the proposal and the approving votes of the
// module an anchor names, each proven in its block.
func (r *Runtime) certification(ctx context.Context, stream string, anchor *audit.Batch) (*bundle.Certification, error) {
	st, err := r.chain.Stream(stream)
	if err != nil || st == nil {
		return nil, fmt.Errorf("reading stream %s: %v", stream, err)
	}
	var ans certify.Answer
	q := certify.CertifiedQuery{Channel: r.chain.Name(), Purpose: st.Purpose, Module: anchor.Module, Height: anchor.Height}
	if ok, err := r.chain.Query(certify.Name, "certified", q, &ans); err != nil || !ok || !ans.Certified {
		return nil, fmt.Errorf("module %s of batch %d: certify does not answer that it was certified in block %d (%v, %s)", anchor.Module, anchor.FirstSeq, anchor.Height, err, ans.Reason)
	}
	mq := certify.ModuleQuery{Name: ans.Name, Version: ans.Version}
	var rec certify.Module
	if ok, err := r.chain.Query(certify.Name, "module", mq, &rec); err != nil || !ok {
		return nil, fmt.Errorf("reading module %s@%d: %v", ans.Name, ans.Version, err)
	}
	var votes []certify.VoteRecord
	if _, err := r.chain.Query(certify.Name, "votes", mq, &votes); err != nil {
		return nil, fmt.Errorf("reading the votes on %s@%d: %w", ans.Name, ans.Version, err)
	}
	c := &bundle.Certification{}
	prop, _, err := r.findTx(ctx, rec.Proposed, func(tx *envelope.Tx) bool {
		var p manifest.Proposal
		return tx.Payload.Method == "propose" && canon.Unmarshal(tx.Payload.Args, &p) == nil && p.ID().String() == rec.ID
	})
	if err != nil {
		return nil, fmt.Errorf("the proposal of %s@%d: %w", rec.Name, rec.Version, err)
	}
	c.Proposal = *prop
	type found struct {
		height int64
		index  int
		tx     *bundle.ProvenTx
	}
	var fs []found
	for _, v := range votes {
		if v.Verdict != manifest.VerdictApprove || v.Height > rec.Certified {
			continue
		}
		tx, i, err := r.findTx(ctx, v.Height, func(tx *envelope.Tx) bool {
			var a manifest.Vote
			return tx.Payload.Method == "vote" && hex.EncodeToString(tx.Payload.Creator) == v.Certifier &&
				canon.Unmarshal(tx.Payload.Args, &a) == nil && hex.EncodeToString(a.Proposal) == rec.ID
		})
		if err != nil {
			return nil, fmt.Errorf("the vote of %s on %s@%d: %w", v.Org, rec.Name, rec.Version, err)
		}
		fs = append(fs, found{v.Height, i, tx})
	}
	slices.SortFunc(fs, func(a, b found) int {
		if a.height != b.height {
			return int(a.height - b.height)
		}
		return a.index - b.index
	})
	for _, f := range fs {
		c.Votes = append(c.Votes, *f.tx)
	}
	return c, nil
}

// findTx proves the successful certify transaction of block height that
// match selects, and returns its index in the block.
func (r *Runtime) findTx(ctx context.Context, height int64, match func(*envelope.Tx) bool) (*bundle.ProvenTx, int, error) {
	txs, err := r.chain.BlockTxs(height)
	if err != nil {
		return nil, 0, err
	}
	for i, raw := range txs {
		tx, err := envelope.Decode(raw, 0)
		if err != nil || tx.Payload.Contract != certify.Name || !match(tx) {
			continue
		}
		p, err := r.chain.ProveTx(ctx, tx.ID)
		if err != nil {
			continue // a transaction that failed: another one matches
		}
		pt, err := provenOf(p)
		if err != nil {
			return nil, 0, err
		}
		if !bytes.Equal(pt.Tx, raw) {
			return nil, 0, fmt.Errorf("block %d: the proof is of another transaction", height)
		}
		return pt, i, nil
	}
	return nil, 0, fmt.Errorf("no such successful transaction in block %d", height)
}

// provenOf is a ledger proof in the bundle's form.
func provenOf(p *ledger.TxProof) (*bundle.ProvenTx, error) {
	out := &bundle.ProvenTx{Tx: p.Tx, TxProof: bundle.FromCometProof(p.TxProof), Result: p.Result, ResultProof: bundle.FromCometProof(p.ResultProof)}
	var err error
	if out.Header, err = p.Header.ToProto().Marshal(); err != nil {
		return nil, err
	}
	if out.NextHeader, err = p.NextHeader.ToProto().Marshal(); err != nil {
		return nil, err
	}
	if out.Commit, err = p.Commit.ToProto().Marshal(); err != nil {
		return nil, err
	}
	return out, nil
}
