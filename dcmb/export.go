package dcmb

// This file holds the export of offline audit bundles: a message found
// in the archive, spool or inbox, proved against its anchoring block.

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/txerr"
)

// ErrNotHeld reports a message this node cannot disclose.
var ErrNotHeld = txerr.New(txerr.NotFound, "message not held by this node")

// holder returns the directories holding a stream's batches on this node
// and the stream secret.
func (r *Runtime) holder(stream string) ([]*Dir, []byte, error) {
	if s := r.senders[stream]; s != nil {
		return []*Dir{s.arch, s.spool}, s.secret[:], nil
	}
	if in := r.receivers[stream]; in != nil {
		return []*Dir{in.inbox}, in.heldSecret(), nil
	}
	return nil, nil, fmt.Errorf("%w: this node neither sends nor receives stream %q", ErrNotHeld, stream)
}

// Export builds the offline proof bundle of message seq of a stream
// (sealed mode: that message; paper mode: its whole interval).
func (r *Runtime) Export(ctx context.Context, stream string, seq uint64) (*bundle.Bundle, error) {
	dirs, secret, err := r.holder(stream)
	if err != nil {
		return nil, err
	}
	var b *Batch
	var anchor *audit.Batch
	for _, d := range dirs {
		if first, ok := d.Find(seq); ok {
			c, err := d.Get(first)
			if err != nil {
				return nil, err
			}
			if cb, ok := r.anchorOf(c); ok && seq < c.FirstSeq+c.Count {
				b, anchor = c, cb
				break
			}
		}
	}
	if b == nil {
		return nil, fmt.Errorf("%w: message %d of stream %q is not in an anchored batch here (delivered batches are kept when archive is on)", ErrNotHeld, seq, stream)
	}
	if b.Msgs == nil {
		return nil, fmt.Errorf("%w: this node received only the hashes of stream %q", ErrNotHeld, stream)
	}
	var tx envelope.ID
	if raw, err := hex.DecodeString(anchor.TXNumber); err != nil || copy(tx[:], raw) != len(tx) {
		return nil, fmt.Errorf("the chain's record of batch %d has a bad transaction number %q", b.FirstSeq, anchor.TXNumber)
	}
	p, err := r.chain.ProveTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	pt, err := provenOf(p)
	if err != nil {
		return nil, err
	}
	out := &bundle.Bundle{Version: bundle.Version, Stream: stream, Tx: pt.Tx, TxProof: pt.TxProof, Result: pt.Result,
		ResultProof: pt.ResultProof, Header: pt.Header, NextHeader: pt.NextHeader, Commit: pt.Commit}
	if anchor.Module != "" {
		if out.Certification, err = r.certification(ctx, stream, anchor); err != nil {
			return nil, err
		}
		out.Version = bundle.VersionCertified
	}
	if b.Mode == audit.ModePaper {
		for _, m := range b.Msgs {
			out.Messages = append(out.Messages, bundle.Disclosed{Seq: m.Seq, Key: m.Key, Value: m.Value})
		}
		return out, nil
	}
	if len(secret) != 32 {
		return nil, fmt.Errorf("%w: no secret for stream %q", ErrNotHeld, stream)
	}
	var sec evidence.StreamSecret
	copy(sec[:], secret)
	i := seq - b.FirstSeq
	proof, err := evidence.NewTree(b.LeafHashes(sec)).Proof(i)
	if err != nil {
		return nil, err
	}
	m := b.Msgs[i]
	salt := sec.Salt(stream, seq)
	out.Messages = []bundle.Disclosed{{Seq: m.Seq, Key: m.Key, Value: m.Value, Salt: salt[:]}}
	out.Proof = proof
	return out, nil
}
