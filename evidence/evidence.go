// Package evidence turns a stream's messages into what paper 000 anchors on
// chain (Algorithm 1): per interval, one batch whose messages are salted
// commitments, as leaves of an RFC 6962 Merkle tree. The batch's root,
// count, sequence range and interval go on chain in one transaction; a
// single message is later disclosed to an auditor with its salt and
// inclusion proof, without revealing any other.
//
// Two commitment modes:
//
//   - sealed (default): each message's salt is HMAC-SHA256 of a per-stream
//     secret shared only by sender and receiver, so the chain holds roots
//     only and nobody else can test guesses against a leaf;
//   - paper: as Algorithms 1 and 4, Argon2id over the interval's data with
//     a random salt published on chain beside the hash. Anyone holding the
//     salt can test guesses; Argon2id only slows each guess down (see
//     BenchmarkGuess and docs/ARCHITECTURE.md).
package evidence

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/crypto/argon2"
)

// SaltSize is the size of a message salt.
const SaltSize = 32

var hasher = rfc6962.New(crypto.SHA256)

// Errors of verification.
var (
	ErrBadProof = errors.New("inclusion proof does not lead to the anchored root")
	ErrRange    = errors.New("message outside the batch")
)

// StreamSecret is the per-stream secret of sealed mode.
type StreamSecret [32]byte

// Salt derives message seq's salt in sealed mode.
func (s StreamSecret) Salt(stream string, seq uint64) [SaltSize]byte {
	return s.Salter(stream).Salt(seq)
}

// Salter derives the salts of one stream, reusing its keyed HMAC state
// (for a batch's many messages). It is not safe for concurrent use.
type Salter struct {
	mac hash.Hash
	buf []byte
	n   int
}

// Salter returns the salt deriver of a stream.
func (s StreamSecret) Salter(stream string) *Salter {
	buf := append([]byte("sealnet/dcmb/salt/v1\x00"), stream...)
	buf = append(buf, 0)
	return &Salter{mac: hmac.New(sha256.New, s[:]), buf: buf, n: len(buf)}
}

// Salt is message seq's salt: HMAC-SHA256(secret, label, stream, seq).
func (s *Salter) Salt(seq uint64) [SaltSize]byte {
	s.mac.Reset()
	s.buf = binary.BigEndian.AppendUint64(s.buf[:s.n], seq)
	s.mac.Write(s.buf)
	var out [SaltSize]byte
	s.mac.Sum(out[:0])
	return out
}

// Leafer computes leaf hashes of DCMB messages, reusing one hash state.
// Leaf(salt, seq, key, value) equals LeafHash(salt, seq, Record(key,
// value)). It is not safe for concurrent use.
type Leafer struct {
	h   hash.Hash
	buf []byte
}

// NewLeafer returns a leaf hasher.
func NewLeafer() *Leafer { return &Leafer{h: sha256.New()} }

// Leaf is the RFC 6962 leaf hash of a salted message.
func (l *Leafer) Leaf(salt [SaltSize]byte, seq uint64, key string, value []byte) []byte {
	l.h.Reset()
	b := append(l.buf[:0], rfc6962.RFC6962LeafHashPrefix)
	b = append(b, salt[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	l.buf = b
	l.h.Write(b)
	l.h.Write(value)
	return l.h.Sum(make([]byte, 0, sha256.Size))
}

// LeafData is what a leaf commits to: salt, sequence number and message.
func LeafData(salt [SaltSize]byte, seq uint64, msg []byte) []byte {
	b := make([]byte, 0, SaltSize+8+len(msg))
	b = append(b, salt[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, msg...)
}

// LeafHash is the RFC 6962 leaf hash of a salted message.
func LeafHash(salt [SaltSize]byte, seq uint64, msg []byte) []byte {
	return hasher.HashLeaf(LeafData(salt, seq, msg))
}

// Tree is a batch's Merkle tree.
type Tree struct {
	levels [][][]byte // levels[0] are leaf hashes; levels[l][i] roots complete subtrees
}

// NewTree builds the tree over leaf hashes.
func NewTree(leaves [][]byte) *Tree {
	t := &Tree{levels: [][][]byte{leaves}}
	for l := 0; len(t.levels[l]) > 1; l++ {
		prev := t.levels[l]
		next := make([][]byte, 0, len(prev)/2)
		for i := 0; i+1 < len(prev); i += 2 {
			next = append(next, hasher.HashChildren(prev[i], prev[i+1]))
		}
		if len(next) == 0 {
			break
		}
		t.levels = append(t.levels, next)
	}
	return t
}

// Size is the number of leaves.
func (t *Tree) Size() uint64 { return uint64(len(t.levels[0])) }

// Root is the RFC 6962 root hash.
func (t *Tree) Root() []byte { return RootOf(t.levels[0]) }

// RootOf is the RFC 6962 root over leaf hashes, without keeping the tree.
func RootOf(leaves [][]byte) []byte {
	if len(leaves) == 0 {
		return hasher.EmptyRoot()
	}
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, h := range leaves {
		if err := r.Append(h, nil); err != nil {
			panic(err) // appending to an empty range starting at 0 cannot fail
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	return root
}

// Proof is the inclusion proof of leaf i.
func (t *Tree) Proof(i uint64) ([][]byte, error) {
	if i >= t.Size() {
		return nil, ErrRange
	}
	nodes, err := proof.Inclusion(i, t.Size())
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for j, id := range nodes.IDs {
		if int(id.Level) >= len(t.levels) || id.Index >= uint64(len(t.levels[id.Level])) {
			return nil, fmt.Errorf("proof node %d/%d not in the tree", id.Level, id.Index)
		}
		hashes[j] = t.levels[id.Level][id.Index]
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// VerifyInclusion checks that leafHash is leaf i of the tree of size n
// with the given root.
func VerifyInclusion(i, n uint64, leafHash []byte, p [][]byte, root []byte) error {
	if err := proof.VerifyInclusion(hasher, i, n, leafHash, p, root); err != nil {
		var mismatch proof.RootMismatchError
		if errors.As(err, &mismatch) {
			return fmt.Errorf("%w: it leads to root %x, not the anchored %x", ErrBadProof, mismatch.CalculatedRoot, mismatch.ExpectedRoot)
		}
		return fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	return nil
}

// Argon2id parameters of paper mode (the draft RFC 9106 second
// recommendation: 64 MiB, one pass, two lanes).
const (
	argonTime    = 1
	argonMemory  = 64 << 10 // KiB
	argonThreads = 2
)

// PaperCommit is paper mode's H = Argon2id(data, salt) over the interval's
// messages, length-prefixed so that the split between messages counts.
func PaperCommit(msgs [][]byte, salt []byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		b = append(b, m...)
	}
	return argon2.IDKey(b, salt, argonTime, argonMemory, argonThreads, 32)
}

// Record is the bytes a DCMB message's leaf commits to besides its salt
// and sequence number: its key and value, each length-prefixed.
func Record(key string, value []byte) []byte {
	b := make([]byte, 0, len(key)+len(value)+2*binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// PaperData is what paper mode's Argon2id covers for one message.
func PaperData(seq uint64, key string, value []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, seq), Record(key, value)...)
}
