package voucher

import (
	"bytes"
	"testing"
)

// FuzzDecode: whatever Decode accepts is exactly the canonical encoding
// of what it decoded, its fields are valid, and Check never panics on it.
func FuzzDecode(f *testing.F) {
	payer := testKey(f, "payer")
	for _, v := range []Voucher{base(), func() Voucher {
		v := base()
		v.Lane, v.Nonce, v.Amount = 1<<63, 1<<64-1, 1<<64-1
		v.Cond = &Condition{Job: channelID[:], State: StateAccepted}
		return v
	}()} {
		raw, err := Sign(v, payer)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{0xa0})
	f.Add([]byte{0xa2, 0x01, 0x40, 0x02, 0x40})
	ch := view(payer, 1<<64-1, Lane{ID: 0, Nonce: 1, Amount: 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Decode(raw)
		if err != nil {
			return
		}
		if again := Encode(d.Body, d.Signature); !bytes.Equal(again, raw) {
			t.Fatalf("accepted %x, which encodes as %x", raw, again)
		}
		body, err := d.Voucher.Body()
		if err != nil {
			t.Fatalf("accepted an invalid voucher: %v", err)
		}
		if !bytes.Equal(body, d.Body) {
			t.Fatalf("body %x encodes as %x", d.Body, body)
		}
		Check(d, ch)
	})
}
