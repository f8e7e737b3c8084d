package wire

// This file holds the Batch: its commitment (sealed leaves and root,
// paper-mode Argon2id) and its file format, SNDCMB2.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/internal/lpframe"
)

// Batch is one interval's messages of a stream: what is anchored on chain
// in one transaction and delivered to the receiver as a unit.
type Batch struct {
	Stream    string
	Mode      string // audit.ModeSealed or audit.ModePaper
	FirstSeq  uint64
	Count     uint64
	Start     int64     // interval, Unix ns
	End       int64     // interval, Unix ns
	PaperSalt []byte    // paper mode: the salt published on chain
	Msgs      []Message // the messages (nil at a receiver of hashes)
	Leaves    [][]byte  // leaf hashes, kept when the values are not (hash delivery)
	Root      []byte    // Merkle root (sealed) or Argon2id hash (paper)
	Created   int64     // when the sender sealed it, Unix ns
	Dropped   string    // a marker of a range dropped before anchoring: the reason (no content)
}

// ErrRoot reports a batch whose messages do not lead to the expected root.
var ErrRoot = errors.New("messages do not match the anchored root")

// LeafHashes computes the batch's leaf hashes (sealed mode).
func (b *Batch) LeafHashes(secret evidence.StreamSecret) [][]byte {
	if b.Leaves != nil {
		return b.Leaves // hash delivery: the values are not here
	}
	leaves := make([][]byte, len(b.Msgs))
	salter, leafer := secret.Salter(b.Stream), evidence.NewLeafer()
	for i, m := range b.Msgs {
		leaves[i] = leafer.Leaf(salter.Salt(m.Seq), m.Seq, m.Key, m.Value)
	}
	return leaves
}

// ComputeRoot returns the commitment of the batch's content.
func (b *Batch) ComputeRoot(secret evidence.StreamSecret) []byte {
	if b.Mode == audit.ModePaper {
		data := make([][]byte, len(b.Msgs))
		for i, m := range b.Msgs {
			data[i] = evidence.PaperData(m.Seq, m.Key, m.Value)
		}
		return evidence.PaperCommit(data, b.PaperSalt)
	}
	return evidence.RootOf(b.LeafHashes(secret))
}

// Bytes is the batch's approximate size in a spool.
func (b *Batch) Bytes() int64 {
	n := int64(64 + len(b.Stream))
	for _, m := range b.Msgs {
		n += int64(len(m.Key) + len(m.Value) + 12)
	}
	return n + int64(33*len(b.Leaves))
}

var batchMagic = []byte("SNDCMB2\n")

// MarshalBinary encodes the batch for a spool, archive or inbox file; a
// SHA-256 trailer detects a torn or damaged file.
func (b *Batch) MarshalBinary() ([]byte, error) {
	e := enc{b: make([]byte, 0, b.Bytes()+64)}
	e.b = append(e.b, batchMagic...)
	e.string(b.Stream)
	e.string(b.Mode)
	e.uint(b.FirstSeq)
	e.uint(b.Count)
	e.int(b.Start)
	e.int(b.End)
	e.bytes(b.PaperSalt)
	e.bytes(b.Root)
	e.int(b.Created)
	e.string(b.Dropped)
	switch {
	case b.Dropped != "":
		e.byte('d')
	case b.Msgs != nil:
		e.byte('v')
		for _, m := range b.Msgs {
			e.string(m.Key)
			e.bytes(m.Value)
			e.int(m.Time)
		}
	default:
		e.byte('h')
		for _, l := range b.Leaves {
			e.b = append(e.b, l...)
		}
	}
	sum := sha256.Sum256(e.b)
	return append(e.b, sum[:]...), nil
}

// UnmarshalBinary decodes a batch file.
func (b *Batch) UnmarshalBinary(raw []byte) error {
	if len(raw) < len(batchMagic)+32 || !bytes.Equal(raw[:len(batchMagic)], batchMagic) {
		return fmt.Errorf("%w: not a batch file", ErrMalformed)
	}
	body, sum := raw[:len(raw)-32], raw[len(raw)-32:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return fmt.Errorf("%w: batch file checksum mismatch (torn or damaged)", ErrMalformed)
	}
	d := lpframe.NewDecoder(body[len(batchMagic):])
	*b = Batch{Stream: d.String(MaxName, "stream"), Mode: d.String(16, "mode"), FirstSeq: d.Uint("first sequence number"), Count: d.Uint("count"),
		Start: d.Int("start"), End: d.Int("end"), PaperSalt: d.Bytes(64, "salt"), Root: d.Bytes(32, "root"), Created: d.Int("creation time"), Dropped: d.String(256, "drop reason")}
	if b.Count > MaxBatchLen {
		d.Fail("batch of %d messages", b.Count)
	}
	switch form := d.Byte("batch form"); {
	case d.Err() != nil:
	case form == 'd':
	case form == 'v':
		b.Msgs = make([]Message, 0, min(b.Count, 1<<16))
		for i := uint64(0); i < b.Count && d.Err() == nil; i++ {
			b.Msgs = append(b.Msgs, Message{Seq: b.FirstSeq + i, Key: d.String(MaxKey, "key"), Value: d.Bytes(MaxValue, "value"), Time: d.Int("time")})
		}
	case form == 'h':
		for i := uint64(0); i < b.Count && d.Err() == nil; i++ {
			b.Leaves = append(b.Leaves, d.Fixed(32, "leaf"))
		}
	default:
		d.Fail("unknown batch form %q", form)
	}
	return d.End()
}
