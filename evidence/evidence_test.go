package evidence

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func leaves(n int, secret StreamSecret) [][]byte {
	out := make([][]byte, n)
	for i := range n {
		seq := uint64(1000 + i)
		out[i] = LeafHash(secret.Salt("press-7", seq), seq, []byte(fmt.Sprintf(`{"counter":%d}`, 5300+i)))
	}
	return out
}

func TestInclusionProofsEverySize(t *testing.T) {
	secret := StreamSecret{1}
	for n := 1; n <= 70; n++ {
		ls := leaves(n, secret)
		tr := NewTree(ls)
		root := tr.Root()
		for i := range ls {
			p, err := tr.Proof(uint64(i))
			if err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := VerifyInclusion(uint64(i), uint64(n), ls[i], p, root); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			// another leaf, another position or another root fails
			if VerifyInclusion(uint64(i), uint64(n), ls[(i+1)%n], p, root) == nil && n > 1 {
				t.Fatalf("n=%d i=%d: proof accepted a different leaf", n, i)
			}
		}
	}
}

// RFC 6962 test vector: the root of the empty tree and a one-leaf tree.
func TestRootVectors(t *testing.T) {
	empty := sha256.Sum256(nil)
	if !bytes.Equal(NewTree(nil).Root(), empty[:]) {
		t.Fatal("empty root")
	}
	one := sha256.Sum256([]byte{0})
	if !bytes.Equal(NewTree([][]byte{hasher.HashLeaf(nil)}).Root(), hasher.HashLeaf(nil)) || !bytes.Equal(hasher.HashLeaf(nil), one[:]) {
		t.Fatal("one-leaf root")
	}
}

func TestSealedSaltsDifferPerStreamAndSeq(t *testing.T) {
	s := StreamSecret{7}
	a, b, c := s.Salt("a", 1), s.Salt("a", 2), s.Salt("b", 1)
	if a == b || a == c || (StreamSecret{8}).Salt("a", 1) == a {
		t.Fatal("salts repeat")
	}
	if _, err := NewTree(leaves(3, s)).Proof(3); !errors.Is(err, ErrRange) {
		t.Fatalf("proof outside the batch: %v", err)
	}
}

// The reusing Salter and Leafer compute exactly the one-shot definitions:
// salt = HMAC-SHA256(secret, label || stream || 0 || seq) and leaf =
// SHA-256(0x00 || salt || seq || Record(key, value)).
func TestSalterAndLeaferMatchDefinitions(t *testing.T) {
	secret := StreamSecret{9, 9}
	salter, leafer := secret.Salter("press-7"), NewLeafer()
	for seq := range uint64(300) {
		mac := hmac.New(sha256.New, secret[:])
		mac.Write([]byte("sealnet/dcmb/salt/v1\x00press-7\x00"))
		mac.Write(binary.BigEndian.AppendUint64(nil, seq))
		want := mac.Sum(nil)
		salt := salter.Salt(seq)
		if !bytes.Equal(salt[:], want) {
			t.Fatalf("salt %d differs", seq)
		}
		key, value := strings.Repeat("k", int(seq%3)), bytes.Repeat([]byte{byte(seq)}, int(seq))
		if !bytes.Equal(leafer.Leaf(salt, seq, key, value), LeafHash(salt, seq, Record(key, value))) {
			t.Fatalf("leaf %d differs", seq)
		}
	}
}

// How fast does a published salt let anyone recover a 4-digit counter?
// Sealed-mode leaves use SHA-256: with the salt (which sealed mode never
// publishes) one guess costs one hash. Paper mode's Argon2id costs one
// Argon2id evaluation per guess.
func BenchmarkGuessSHA256Leaf(b *testing.B) {
	salt := StreamSecret{3}.Salt("press-7", 1)
	for i := 0; b.Loop(); i++ {
		LeafHash(salt, 1, []byte(fmt.Sprintf(`{"counter":%d}`, i%10000)))
	}
}

func BenchmarkGuessArgon2id(b *testing.B) {
	salt := []byte("published-salt-16")
	for i := 0; b.Loop(); i++ {
		PaperCommit([][]byte{[]byte(fmt.Sprintf("%d", i%10000))}, salt)
	}
}
