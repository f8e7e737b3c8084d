// Package bundle is the offline proof that a message of a DCMB stream was
// exchanged (paper 000's audit trail): the disclosed message with its salt
// and Merkle inclusion proof, the transaction that anchored its batch, the
// CometBFT proofs that this transaction is in a block and succeeded, and
// the validators' signed commit of that block. Verify checks all of it
// against the channel's genesis alone, without contacting any node.
//
// Every byte of a bundle is covered: the encoding is canonical CBOR
// without unknown fields, headers and commit must re-encode identically,
// and every field is either checked against a hash or signature or derived.
//
// A bundle of a certified stream (version 2) also shows which module
// processed the batch and how that module came to be certified: the
// transaction that proposed it and the certifiers' approving votes, each
// proven in its block the same way (certification.go).
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/evidence"
)

// Versions of the bundle format: 1 without, 2 with a certification.
const (
	Version          = 1
	VersionCertified = 2
)

// MaxSize bounds a bundle file.
const MaxSize = 64 << 20

// Bundle is a self-contained proof.
type Bundle struct {
	Version     int         `cbor:"version"`
	Stream      string      `cbor:"stream"`
	Messages    []Disclosed `cbor:"messages"`        // sealed: one message; paper: the whole interval
	Proof       [][]byte    `cbor:"proof,omitempty"` // sealed: inclusion proof of the message in the batch's tree
	Tx          []byte      `cbor:"tx"`              // the anchoring transaction
	TxProof     MerkleProof `cbor:"tx_proof"`        // tx in Header.DataHash
	Result      []byte      `cbor:"result"`          // the transaction's result data (the audit batch record)
	ResultProof MerkleProof `cbor:"result_proof"`    // result (code 0) in NextHeader.LastResultsHash
	Header      []byte      `cbor:"header"`          // protobuf header of the block holding the tx
	NextHeader  []byte      `cbor:"next_header"`     // protobuf header of the next block
	Commit      []byte      `cbor:"commit"`          // protobuf commit of the next block, signed by the validators
	// Certification shows how the anchor's module was certified
	// (version 2: a certified stream's bundle).
	Certification *Certification `cbor:"certification,omitempty"`
}

// Disclosed is one disclosed message.
type Disclosed struct {
	Seq   uint64 `cbor:"seq"`
	Key   string `cbor:"key"`
	Value []byte `cbor:"value"`
	Salt  []byte `cbor:"salt,omitempty"` // sealed mode
}

// MerkleProof is a CometBFT simple Merkle proof without its leaf hash
// (recomputed from the leaf).
type MerkleProof struct {
	Index uint64   `cbor:"index"`
	Total uint64   `cbor:"total"`
	Aunts [][]byte `cbor:"aunts"`
}

// Errors.
var (
	ErrInvalid = errors.New("bundle does not verify")
)

func fail(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Encode returns the bundle's canonical bytes.
func (b *Bundle) Encode() ([]byte, error) { return canon.Marshal(b) }

// Decode parses a bundle, refusing any non-canonical encoding.
func Decode(raw []byte) (*Bundle, error) {
	if len(raw) > MaxSize {
		return nil, fail("%d bytes, limit %d", len(raw), MaxSize)
	}
	var b Bundle
	if err := canon.Unmarshal(raw, &b); err != nil {
		return nil, fail("not a canonical bundle: %v", err)
	}
	switch {
	case b.Version == Version && b.Certification == nil, b.Version == VersionCertified && b.Certification != nil:
	case b.Version == Version || b.Version == VersionCertified:
		return nil, fail("version %d with%s a certification", b.Version, map[bool]string{true: "", false: "out"}[b.Certification != nil])
	default:
		return nil, fail("version %d, want %d or %d", b.Version, Version, VersionCertified)
	}
	return &b, nil
}

// FromCometProof converts a CometBFT proof.
func FromCometProof(p merkle.Proof) MerkleProof {
	return MerkleProof{Index: uint64(p.Index), Total: uint64(p.Total), Aunts: p.Aunts}
}

func (p MerkleProof) verify(root, leaf []byte) error {
	if p.Total == 0 || p.Total > 1<<20 || p.Index >= p.Total || len(p.Aunts) > 64 {
		return errors.New("proof shape out of range")
	}
	lh := sha256.Sum256(append([]byte{0}, leaf...))
	mp := merkle.Proof{Total: int64(p.Total), Index: int64(p.Index), LeafHash: lh[:], Aunts: p.Aunts}
	return mp.Verify(root, leaf)
}

// Report is what Verify established, step by step.
type Report struct {
	ChainID  string
	Stream   string
	Mode     string
	Messages []Disclosed
	Height   int64
	TxID     string
	Batch    audit.Batch
	Module   *ModuleReport // the certified module that processed the batch (a certified stream's anchor)
	Steps    []string
}

// LoadGenesis reads a CometBFT genesis file.
func LoadGenesis(path string) (*types.GenesisDoc, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := types.GenesisDocFromJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

func header(raw []byte, what string) (*types.Header, error) {
	var ph cmtproto.Header
	if err := ph.Unmarshal(raw); err != nil {
		return nil, fail("%s: %v", what, err)
	}
	again, err := ph.Marshal()
	if err != nil || !bytes.Equal(again, raw) {
		return nil, fail("%s is not canonically encoded", what)
	}
	h, err := types.HeaderFromProto(&ph)
	if err != nil {
		return nil, fail("%s: %v", what, err)
	}
	return &h, nil
}

// Verify checks the bundle against the genesis of its channel.
func Verify(b *Bundle, g *types.GenesisDoc) (*Report, error) {
	r := &Report{ChainID: g.ChainID, Stream: b.Stream, Messages: b.Messages}
	step := func(format string, args ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, args...)) }
	vset, err := genesisValidators(g)
	if err != nil {
		return nil, err
	}
	anchor := &ProvenTx{Tx: b.Tx, TxProof: b.TxProof, Result: b.Result, ResultProof: b.ResultProof, Header: b.Header,
		NextHeader: b.NextHeader, Commit: b.Commit}
	pt, err := anchor.verify(g, vset)
	if err != nil {
		return nil, err
	}
	hdr, next := pt.header, pt.next
	// 1. the signed commit of the next block, by the genesis validators
	step("block %d of chain %s (hash %X) is committed: every signature in its commit verifies, and they hold more than 2/3 of the voting power of the %d genesis validators", next.Height, g.ChainID, next.Hash(), len(g.Validators))
	// 2. the block holding the transaction, linked by hash
	r.Height = hdr.Height
	step("block %d (hash %X) is the committed block's parent, at %s", hdr.Height, hdr.Hash(), hdr.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	// 3. the transaction is in that block, and it succeeded
	r.TxID = pt.id
	step("transaction %s is number %d of %d in block %d, and it executed with code 0 and this result (proof against the next block's results hash)", r.TxID, b.TxProof.Index, b.TxProof.Total, hdr.Height)

	// 4. the transaction anchors the stream's batch
	pl := pt.tx.Payload
	if pl.Contract != audit.Name || pl.Method != "anchor" {
		return nil, fail("transaction calls %s.%s, not audit.anchor", pl.Contract, pl.Method)
	}
	var args audit.AnchorArgs
	if err := canon.Unmarshal(pl.Args, &args); err != nil {
		return nil, fail("anchor arguments: %v", err)
	}
	if err := canon.Unmarshal(b.Result, &r.Batch); err != nil {
		return nil, fail("anchor result: %v", err)
	}
	rb := r.Batch
	if args.Stream != b.Stream || rb.Stream != b.Stream || rb.FirstSeq != args.FirstSeq || rb.Count != args.Count ||
		rb.Root != hex.EncodeToString(args.Root) || rb.Mode != args.Mode || rb.Height != hdr.Height || rb.TXNumber != r.TxID ||
		rb.Module != hex.EncodeToString(args.Module) {
		return nil, fail("anchor arguments and result disagree")
	}
	r.Mode = args.Mode
	step("it anchors stream %q, messages %d-%d (%d), %s mode, root %X, interval %s to %s", b.Stream, args.FirstSeq, args.FirstSeq+args.Count-1,
		args.Count, args.Mode, args.Root, unixNano(args.IntervalStart), unixNano(args.IntervalEnd))

	// 5. the disclosed messages lead to the anchored root
	switch args.Mode {
	case audit.ModeSealed:
		if len(b.Messages) != 1 {
			return nil, fail("a sealed-mode bundle discloses exactly one message")
		}
		m := b.Messages[0]
		if m.Seq < args.FirstSeq || m.Seq-args.FirstSeq >= args.Count {
			return nil, fail("message %d is outside the anchored range", m.Seq)
		}
		if len(m.Salt) != evidence.SaltSize {
			return nil, fail("salt of %d bytes", len(m.Salt))
		}
		var salt [evidence.SaltSize]byte
		copy(salt[:], m.Salt)
		leaf := evidence.LeafHash(salt, m.Seq, evidence.Record(m.Key, m.Value))
		if err := evidence.VerifyInclusion(m.Seq-args.FirstSeq, args.Count, leaf, b.Proof, args.Root); err != nil {
			return nil, fail("message %d: %v", m.Seq, err)
		}
		step("message %d (key %q, %d bytes) with its salt is leaf %d of the %d-leaf tree with the anchored root (RFC 6962 inclusion proof of %d hashes)",
			m.Seq, m.Key, len(m.Value), m.Seq-args.FirstSeq, args.Count, len(b.Proof))
	case audit.ModePaper:
		if uint64(len(b.Messages)) != args.Count || len(b.Proof) != 0 {
			return nil, fail("a paper-mode bundle discloses the whole interval (%d messages) and no proof", args.Count)
		}
		data := make([][]byte, len(b.Messages))
		for i, m := range b.Messages {
			if m.Seq != args.FirstSeq+uint64(i) || len(m.Salt) != 0 {
				return nil, fail("message %d of the interval has sequence %d", i, m.Seq)
			}
			data[i] = evidence.PaperData(m.Seq, m.Key, m.Value)
		}
		if !bytes.Equal(evidence.PaperCommit(data, args.Salt), args.Root) {
			return nil, fail("Argon2id of the disclosed interval with the published salt is not the anchored hash")
		}
		step("Argon2id of the %d disclosed messages with the salt published on chain equals the anchored hash", len(b.Messages))
	default:
		return nil, fail("mode %q", args.Mode)
	}

	// 6. on a certified stream: the module, and how it was certified
	if err := r.verifyModule(b, g, vset, &args); err != nil {
		return nil, err
	}
	return r, nil
}

func unixNano(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
