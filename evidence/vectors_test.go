package evidence

import (
	"crypto/sha256"
	"testing"

	"github.com/sealnet/sealnet/internal/golden"
)

// evidenceVector is docs/vectors/evidence.json: one DCMB batch's
// commitments in sealed mode and in paper mode.
type evidenceVector struct {
	Comment  string          `json:"comment"`
	Stream   string          `json:"stream"`
	Secret   golden.Hex      `json:"secret"`
	Messages []sealedMessage `json:"messages"`
	Root     golden.Hex      `json:"root"`
	Proofs   [][]golden.Hex  `json:"proofs"`
	Paper    paperVector     `json:"paper"`
}

type sealedMessage struct {
	Seq    uint64     `json:"seq"`
	Key    string     `json:"key"`
	Value  golden.Hex `json:"value"`
	Salt   golden.Hex `json:"salt"`
	Record golden.Hex `json:"record"`
	Leaf   golden.Hex `json:"leaf"`
}

type paperVector struct {
	Comment    string       `json:"comment"`
	Salt       golden.Hex   `json:"salt"`
	Data       []golden.Hex `json:"data"`
	Commitment golden.Hex   `json:"commitment"`
}

const evidenceFile = "evidence.json"

// vectorMessages are the batch of the evidence vector (and of the DCMB
// wire and batch-file vectors): three messages of stream press-7 from
// sequence number 76, with a non-ASCII key and an empty value. Three leaves
// make an unbalanced tree, where RFC 6962 differs from naive pairings.
var vectorMessages = []struct {
	Seq   uint64
	Key   string
	Value string
}{
	{76, "counter", "5367"},
	{77, "temperature/°C", "21.5"},
	{78, "status", ""},
}

func makeEvidenceVector() evidenceVector {
	secret := sha256.Sum256([]byte("sealnet test vector: stream secret"))
	paperSalt := sha256.Sum256([]byte("sealnet test vector: paper salt"))
	v := evidenceVector{
		Comment: "Sealed mode: salt = HMAC-SHA256(secret, \"sealnet/dcmb/salt/v1\\0\" || stream || 0x00 || u64be(seq)); " +
			"record = uvarint(len(key)) || key || uvarint(len(value)) || value; leaf = SHA-256(0x00 || salt || u64be(seq) || record); " +
			"root = RFC 6962 Merkle tree hash over the leaves in sequence order; proofs[i] = RFC 6962 inclusion proof of leaf i.",
		Stream: "press-7", Secret: secret[:],
		Paper: paperVector{Comment: "Paper mode: data[i] = u64be(seq) || record; commitment = Argon2id(password = concatenation of u32be(len(data[i])) || data[i], " +
			"salt, time 1, memory 65536 KiB, parallelism 2, 32 bytes).", Salt: paperSalt[:]},
	}
	var leaves [][]byte
	for _, m := range vectorMessages {
		salt := StreamSecret(secret).Salt(v.Stream, m.Seq)
		rec := Record(m.Key, []byte(m.Value))
		leaf := LeafHash(salt, m.Seq, rec)
		leaves = append(leaves, leaf)
		v.Messages = append(v.Messages, sealedMessage{Seq: m.Seq, Key: m.Key, Value: []byte(m.Value), Salt: salt[:], Record: rec, Leaf: leaf})
		v.Paper.Data = append(v.Paper.Data, PaperData(m.Seq, m.Key, []byte(m.Value)))
	}
	tr := NewTree(leaves)
	v.Root = tr.Root()
	for i := range leaves {
		p, err := tr.Proof(uint64(i))
		if err != nil {
			panic(err)
		}
		hp := []golden.Hex{}
		for _, h := range p {
			hp = append(hp, h)
		}
		v.Proofs = append(v.Proofs, hp)
	}
	data := make([][]byte, len(v.Paper.Data))
	for i, d := range v.Paper.Data {
		data[i] = d
	}
	v.Paper.Commitment = PaperCommit(data, paperSalt[:])
	return v
}

func TestEvidenceVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, evidenceFile, makeEvidenceVector())
	}
	var v evidenceVector
	golden.Load(t, evidenceFile, &v)
	if len(v.Secret) != 32 || len(v.Messages) == 0 || len(v.Proofs) != len(v.Messages) {
		t.Fatalf("vector shape: secret %d bytes, %d messages, %d proofs", len(v.Secret), len(v.Messages), len(v.Proofs))
	}
	secret := StreamSecret(v.Secret)
	salter, leafer := secret.Salter(v.Stream), NewLeafer()
	var leaves [][]byte
	for _, m := range v.Messages {
		salt := secret.Salt(v.Stream, m.Seq)
		golden.Equal(t, golden.Label("salt", m.Seq), salt[:], m.Salt)
		s2 := salter.Salt(m.Seq)
		golden.Equal(t, golden.Label("salt (reused Salter)", m.Seq), s2[:], m.Salt)
		golden.Equal(t, golden.Label("record", m.Seq), Record(m.Key, m.Value), m.Record)
		golden.Equal(t, golden.Label("leaf", m.Seq), LeafHash(salt, m.Seq, m.Record), m.Leaf)
		golden.Equal(t, golden.Label("leaf (Leafer)", m.Seq), leafer.Leaf(salt, m.Seq, m.Key, m.Value), m.Leaf)
		leaves = append(leaves, m.Leaf)
	}
	golden.Equal(t, "root", RootOf(leaves), v.Root)
	tr := NewTree(leaves)
	golden.Equal(t, "tree root", tr.Root(), v.Root)
	for i, want := range v.Proofs {
		got, err := tr.Proof(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("proof %d has %d hashes, the vector %d", i, len(got), len(want))
			continue
		}
		p := make([][]byte, len(want))
		for j := range want {
			golden.Equal(t, golden.Label("proof", i, j), got[j], want[j])
			p[j] = want[j]
		}
		if err := VerifyInclusion(uint64(i), uint64(len(leaves)), leaves[i], p, v.Root); err != nil {
			t.Errorf("proof %d: %v", i, err)
		}
	}

	data := make([][]byte, len(v.Messages))
	for i, m := range v.Messages {
		data[i] = PaperData(m.Seq, m.Key, m.Value)
		golden.Equal(t, golden.Label("paper data", m.Seq), data[i], v.Paper.Data[i])
	}
	golden.Equal(t, "paper commitment", PaperCommit(data, v.Paper.Salt), v.Paper.Commitment)
}
