package release

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"testing"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/seal"
)

const (
	progCID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	inCID   = "bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq"
)

func setup(t testing.TB) (*ecdsa.PrivateKey, *compute.Job, Claim, Key, []Key, []byte) {
	t.Helper()
	enclave, err := attest.NewEnclaveKey()
	if err != nil {
		t.Fatal(err)
	}
	j := &compute.Job{ID: "6a6f62", Program: compute.Program{CID: progCID}, Inputs: []string{inCID}}
	c := Claim{Chain: "plant", Job: j.ID, Worker: identity.Fingerprint{3}, EnclaveKey: attest.EncodeKey(&enclave.PublicKey)}
	prog := Key{CID: progCID, Key: seal.DataKey{1}}
	ins := []Key{{CID: inCID, Key: seal.DataKey{2}}}
	salt, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	return enclave, j, c, prog, ins, salt
}

func TestSealOpen(t *testing.T) {
	enclave, j, c, prog, ins, salt := setup(t)
	sealed, grant, err := Seal(c, j, prog, ins, salt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(grant, compute.GrantHash(sealed)) {
		t.Fatal("grant hash")
	}
	b, err := Open(enclave, c, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if b.Program != prog || len(b.Inputs) != 1 || b.Inputs[0] != ins[0] || !bytes.Equal(b.Salt, salt) {
		t.Fatalf("opened %+v", b)
	}
	// for another claim, worker or enclave, it does not open
	for name, mod := range map[string]func(*Claim){
		"another job":    func(o *Claim) { o.Job = "other" },
		"another worker": func(o *Claim) { o.Worker[0] ^= 1 },
		"another chain":  func(o *Claim) { o.Chain = "other" },
	} {
		o := c
		mod(&o)
		if _, err := Open(enclave, o, sealed); !errors.Is(err, ErrNotForThis) {
			t.Errorf("%s: %v", name, err)
		}
	}
	other, _ := attest.NewEnclaveKey()
	if _, err := Open(other, c, sealed); !errors.Is(err, ErrNotForThis) {
		t.Errorf("another enclave: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := Open(enclave, c, sealed); !errors.Is(err, ErrNotForThis) {
		t.Errorf("tampered: %v", err)
	}
	// keys must match the job
	if _, _, err := Seal(c, j, Key{CID: inCID}, ins, salt); err == nil {
		t.Error("sealed another program's key")
	}
	if _, _, err := Seal(c, j, prog, nil, salt); err == nil {
		t.Error("sealed without the inputs' keys")
	}
}

func FuzzOpen(f *testing.F) {
	enclave, j, c, prog, ins, salt := setup(f)
	sealed, _, _ := Seal(c, j, prog, ins, salt)
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Open(enclave, c, b); err == nil && !bytes.Equal(b, sealed) {
			t.Fatal("opened altered bytes")
		}
	})
}
