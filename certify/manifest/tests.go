package manifest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/sealnet/sealnet/evidence"
)

// A certifier validates a module against its own confidentiality test set
// and publishes only a commitment to it: the test data may be as sensitive
// as what the module protects, and a set known in advance could be gamed.
// The commitment is hiding (every case has a salt derived from the
// certifier's secret) and binding, and it opens one case at a time: an
// auditor who challenges a vote is shown the cases it asks for, each with
// its salt and an inclusion proof, and learns nothing of the others.
//
//	salt_i = HMAC-SHA256(secret, "sealnet/module/test-salt/v1\0" || u64be(i))
//	leaf_i = SHA-256(0x00 || "sealnet/module/test/v1\0" || salt_i || u64be(i)
//	                 || uvarint(len(name)) || name || uvarint(len(data)) || data)
//	root   = RFC 6962 Merkle tree hash of the leaves
//	commitment = SHA-256("sealnet/module/tests/v1\0" || u64be(n) || root)

// TestSecret is a certifier's secret for the salts of one test set. Keep
// it with the set; a new set takes a new secret.
type TestSecret [32]byte

// TestCase is one case of a test set: its name and its data (inputs and
// expectations, in whatever form the validation tooling reads).
type TestCase struct {
	Name string
	Data []byte
}

// TestOpening discloses case Index of a set of Count cases under
// commitment: the case's salt, the tree's root and the inclusion proof.
type TestOpening struct {
	Index uint64   `json:"index"`
	Count uint64   `json:"count"`
	Salt  []byte   `json:"salt"`
	Root  []byte   `json:"root"`
	Proof [][]byte `json:"proof"`
}

// ErrTestOpening: an opened case does not lead to the commitment.
var ErrTestOpening = errors.New("test case does not open the commitment")

// TestSalt is case i's salt.
func (s TestSecret) TestSalt(i uint64) []byte {
	m := hmac.New(sha256.New, s[:])
	m.Write([]byte(testSaltDomain))
	m.Write(binary.BigEndian.AppendUint64(nil, i))
	return m.Sum(nil)
}

// testLeaf is case i's leaf hash.
func testLeaf(salt []byte, i uint64, c TestCase) []byte {
	b := append([]byte(testLeafDomain), salt...)
	b = binary.BigEndian.AppendUint64(b, i)
	return rfc6962.DefaultHasher.HashLeaf(append(b, evidence.Record(c.Name, c.Data)...))
}

// TestCommitment is SHA-256("sealnet/module/tests/v1\0" || u64be(n) || root).
func TestCommitment(n uint64, root []byte) Hash {
	h := sha256.New()
	h.Write([]byte(testDomain))
	h.Write(binary.BigEndian.AppendUint64(nil, n))
	h.Write(root)
	var out Hash
	h.Sum(out[:0])
	return out
}

func testTree(secret TestSecret, cases []TestCase) (*evidence.Tree, error) {
	if len(cases) == 0 {
		return nil, invalid("an empty test set validates nothing")
	}
	leaves := make([][]byte, len(cases))
	for i, c := range cases {
		leaves[i] = testLeaf(secret.TestSalt(uint64(i)), uint64(i), c)
	}
	return evidence.NewTree(leaves), nil
}

// CommitTests commits to a test set, in the order given.
func CommitTests(secret TestSecret, cases []TestCase) (Hash, error) {
	t, err := testTree(secret, cases)
	if err != nil {
		return Hash{}, err
	}
	return TestCommitment(t.Size(), t.Root()), nil
}

// OpenTest discloses case i of the set.
func OpenTest(secret TestSecret, cases []TestCase, i uint64) (*TestOpening, error) {
	t, err := testTree(secret, cases)
	if err != nil {
		return nil, err
	}
	p, err := t.Proof(i)
	if err != nil {
		return nil, fmt.Errorf("case %d of %d: %w", i, t.Size(), err)
	}
	return &TestOpening{Index: i, Count: t.Size(), Salt: secret.TestSalt(i), Root: t.Root(), Proof: p}, nil
}

// VerifyTest checks that c is case o.Index of the set committed to.
func VerifyTest(commitment Hash, c TestCase, o *TestOpening) error {
	if TestCommitment(o.Count, o.Root) != commitment {
		return fmt.Errorf("%w: count and root do not hash to it", ErrTestOpening)
	}
	if len(o.Salt) != 32 {
		return fmt.Errorf("%w: salt of %d bytes", ErrTestOpening, len(o.Salt))
	}
	leaf := testLeaf(o.Salt, o.Index, c)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, o.Index, o.Count, leaf, o.Proof, o.Root); err != nil {
		return fmt.Errorf("%w: case %d: %v", ErrTestOpening, o.Index, err)
	}
	return nil
}
