package envelope

import (
	"bytes"
	"testing"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

func signed(t testing.TB) ([]byte, *identity.Identity) {
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	fp := make([]byte, 32)
	fp[0] = 7
	raw, err := Sign(Payload{Channel: "default", Contract: "index", Method: "subfile", Args: canon.MustMarshal(map[string]string{"k": "v"}),
		Creator: fp, Nonce: 9, Timestamp: 1_700_000_000_000_000_000}, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw, &identity.Identity{Key: key}
}

func TestRoundTripAndVerify(t *testing.T) {
	raw, id := signed(t)
	tx, err := Decode(raw, DefaultMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Payload.Channel != "default" || tx.Payload.Nonce != 9 || tx.ID != IDOf(raw) {
		t.Fatalf("decoded %+v", tx.Payload)
	}
	if err := tx.VerifySignature(&id.Key.PublicKey); err != nil {
		t.Fatal(err)
	}
	other, _ := identity.NewKey()
	if err := tx.VerifySignature(&other.PublicKey); txerr.CodeOf(err) != txerr.BadSignature {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestEveryByteFlipIsCaught(t *testing.T) {
	raw, id := signed(t)
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		tx, err := Decode(b, DefaultMaxBytes)
		if err != nil {
			continue
		}
		if tx.VerifySignature(&id.Key.PublicKey) == nil {
			t.Fatalf("flipping byte %d still verifies", i)
		}
	}
}

func TestOversizedAndMalformed(t *testing.T) {
	raw, _ := signed(t)
	if _, err := Decode(raw, len(raw)-1); txerr.CodeOf(err) != txerr.Oversized {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := Decode(raw[:len(raw)-3], 0); txerr.CodeOf(err) != txerr.Malformed {
		t.Fatalf("truncated: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	raw, id := signed(f)
	f.Add(raw)
	f.Add([]byte{})
	f.Add([]byte{0xa2, 0x01, 0x40, 0x02, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := Decode(data, DefaultMaxBytes)
		if err != nil {
			if c := txerr.CodeOf(err); c != txerr.Malformed && c != txerr.Oversized {
				t.Fatalf("decode error with code %s: %v", c, err)
			}
			return
		}
		// whatever decodes must re-encode to the same bytes (one encoding)
		env := canon.MustMarshal(Envelope{Payload: canon.MustMarshal(tx.Payload), Signature: tx.Signature})
		if !bytes.Equal(env, data) {
			t.Fatalf("decoded %x but re-encodes as %x", data, env)
		}
		if !bytes.Equal(data, raw) && tx.VerifySignature(&id.Key.PublicKey) == nil {
			t.Fatalf("forged envelope verifies: %x", data)
		}
	})
}
