package voucher

import (
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/golden"
)

// voucherVectors is docs/vectors/voucher.json.
type voucherVectors struct {
	Comment    string          `json:"comment"`
	PrivateKey golden.Hex      `json:"private_key"`
	PublicKey  golden.Hex      `json:"public_key"`
	Vouchers   []voucherVector `json:"vouchers"`
}

type voucherVector struct {
	Name      string        `json:"name"`
	Fields    voucherFields `json:"fields"`
	Body      golden.Hex    `json:"body_cbor"`
	Digest    golden.Hex    `json:"digest"`
	Signature golden.Hex    `json:"signature"`
	Voucher   golden.Hex    `json:"voucher_cbor"`
}

type voucherFields struct {
	Chain    string     `json:"chain"`
	Contract string     `json:"contract"`
	Channel  golden.Hex `json:"channel"`
	Lane     uint64     `json:"lane"`
	Nonce    uint64     `json:"nonce"`
	Amount   uint64     `json:"amount"`
	Job      golden.Hex `json:"job,omitempty"`
	State    string     `json:"state,omitempty"`
}

func (f voucherFields) voucher() Voucher {
	v := Voucher{Chain: f.Chain, Contract: f.Contract, Channel: f.Channel, Lane: f.Lane, Nonce: f.Nonce, Amount: f.Amount}
	if f.Job != nil || f.State != "" {
		v.Cond = &Condition{Job: f.Job, State: f.State}
	}
	return v
}

const vectorFile = "voucher.json"

// makeVoucherVectors computes the vectors from fixed inputs, keeping a
// signature of the previous file while it still verifies (ECDSA signing
// is randomized).
func makeVoucherVectors(t *testing.T) voucherVectors {
	d := sha256.Sum256([]byte("sealnet test vector key: payer"))
	key := golden.Key(t, d[:])
	channel := sha256.Sum256([]byte("sealnet test vector: channel"))
	job := sha256.Sum256([]byte("sealnet test vector: job"))
	fields := []struct {
		name string
		f    voucherFields
	}{
		{"unconditional", voucherFields{Chain: "default", Contract: "paych", Channel: channel[:], Lane: 0, Nonce: 1, Amount: 7}},
		{"conditional", voucherFields{Chain: "default", Contract: "paych", Channel: channel[:], Lane: 3, Nonce: 1000,
			Amount: 7000, Job: job[:], State: StateAccepted}},
	}
	var old voucherVectors
	golden.LoadIfPresent(t, vectorFile, &old)
	out := voucherVectors{
		Comment: "Payment-channel vouchers (contract/paych/voucher). body_cbor = canonical CBOR {1: chain, 2: contract, 3: channel (32 bytes), " +
			"4: lane, 5: nonce, 6: amount, 7: condition (omitted if none) = {1: job (32 bytes), 2: state}}; digest = SHA-256(\"sealnet/voucher/v1\\0\" || body_cbor); " +
			"signature is ECDSA P-256 r||s (low S) by private_key over digest (randomized: check that it verifies); voucher_cbor = canonical CBOR {1: body_cbor, 2: signature}.",
		PrivateKey: d[:], PublicKey: golden.PublicBytes(t, &key.PublicKey),
	}
	for i, c := range fields {
		v := c.f.voucher()
		body, err := v.Body()
		if err != nil {
			t.Fatal(err)
		}
		var sig []byte
		if i < len(old.Vouchers) && identity.Verify(&key.PublicKey, Digest(body), old.Vouchers[i].Signature) == nil {
			sig = old.Vouchers[i].Signature
		} else if sig, err = identity.Sign(key, Digest(body)); err != nil {
			t.Fatal(err)
		}
		out.Vouchers = append(out.Vouchers, voucherVector{Name: c.name, Fields: c.f, Body: body, Digest: Digest(body),
			Signature: sig, Voucher: Encode(body, sig)})
	}
	return out
}

func TestVoucherVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, vectorFile, makeVoucherVectors(t))
	}
	var vs voucherVectors
	golden.Load(t, vectorFile, &vs)
	key := golden.Key(t, vs.PrivateKey)
	golden.Equal(t, "public key", golden.PublicBytes(t, &key.PublicKey), vs.PublicKey)
	if len(vs.Vouchers) != 2 {
		t.Fatalf("%d vouchers in the file, want 2", len(vs.Vouchers))
	}
	for _, v := range vs.Vouchers {
		// encode from the fields
		want := v.Fields.voucher()
		body, err := want.Body()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		golden.Equal(t, v.Name+" body", body, v.Body)
		golden.Equal(t, v.Name+" digest", Digest(v.Body), v.Digest)
		golden.Equal(t, v.Name+" voucher", Encode(v.Body, v.Signature), v.Voucher)
		// decode the bytes
		d, err := Decode(v.Voucher)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if !reflect.DeepEqual(d.Voucher, want) {
			t.Errorf("%s: decoded %+v, want %+v", v.Name, d.Voucher, want)
		}
		golden.Equal(t, v.Name+" decoded signature", d.Signature, v.Signature)
		if err := d.Verify(&key.PublicKey); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
}
