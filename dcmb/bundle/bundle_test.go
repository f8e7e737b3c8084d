package bundle

import (
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/types"
)

func genesis() *types.GenesisDoc {
	pk := ed25519.GenPrivKeyFromSecret([]byte("fuzz")).PubKey()
	g := &types.GenesisDoc{ChainID: "default", GenesisTime: time.Unix(0, 0).UTC(),
		Validators: []types.GenesisValidator{{Address: pk.Address(), PubKey: pk, Power: 1}}}
	if err := g.ValidateAndComplete(); err != nil {
		panic(err)
	}
	return g
}

// Decode and Verify take any bytes without panicking; what decodes is
// canonical.
func FuzzVerify(f *testing.F) {
	seed, _ := (&Bundle{Version: Version, Stream: "press-7", Messages: []Disclosed{{Seq: 77, Key: "counter", Value: []byte("5367"), Salt: make([]byte, 32)}},
		Proof: [][]byte{make([]byte, 32)}, Tx: []byte{0xa0}, TxProof: MerkleProof{Total: 1}, Result: []byte{0xa0},
		ResultProof: MerkleProof{Total: 1}, Header: []byte{0x0a, 0x00}, NextHeader: []byte{0x0a, 0x00}, Commit: []byte{0x08, 0x01}}).Encode()
	f.Add(seed)
	f.Add([]byte{0xa0})
	pt := ProvenTx{Tx: []byte{0xa0}, TxProof: MerkleProof{Total: 1}, Result: []byte{0xa0}, ResultProof: MerkleProof{Total: 1},
		Header: []byte{0x0a, 0x00}, NextHeader: []byte{0x0a, 0x00}, Commit: []byte{0x08, 0x01}}
	certified, _ := (&Bundle{Version: VersionCertified, Stream: "press-7", Messages: []Disclosed{{Seq: 77, Key: "counter", Value: []byte("5367"), Salt: make([]byte, 32)}},
		Proof: [][]byte{make([]byte, 32)}, Tx: pt.Tx, TxProof: pt.TxProof, Result: pt.Result, ResultProof: pt.ResultProof, Header: pt.Header,
		NextHeader: pt.NextHeader, Commit: pt.Commit, Certification: &Certification{Proposal: pt, Votes: []ProvenTx{pt}}}).Encode()
	f.Add(certified)
	g := genesis()
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := Decode(raw)
		if err != nil {
			return
		}
		if again, _ := b.Encode(); string(again) != string(raw) {
			t.Fatal("a decoded bundle re-encodes differently")
		}
		if _, err := Verify(b, g); err == nil {
			t.Fatal("a fuzzed bundle verified against a genesis nobody signed with")
		}
	})
}
