package voucher

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"github.com/sealnet/sealnet/canon"
)

func testKey(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	d := sha256.Sum256([]byte("sealnet test vector key: " + label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var channelID = sha256.Sum256([]byte("sealnet test vector: channel"))

func base() Voucher {
	return Voucher{Chain: "default", Contract: "paych", Channel: channelID[:], Lane: 0, Nonce: 1, Amount: 10}
}

func view(payer *ecdsa.PrivateKey, deposit uint64, lanes ...Lane) *Channel {
	return &Channel{Chain: "default", Contract: "paych", ID: channelID, Payer: &payer.PublicKey, Deposit: deposit, Lanes: lanes}
}

func mustSign(t testing.TB, v Voucher, key *ecdsa.PrivateKey) *Decoded {
	t.Helper()
	raw, err := Sign(v, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRoundTrip(t *testing.T) {
	payer := testKey(t, "payer")
	v := base()
	v.Cond = &Condition{Job: channelID[:], State: StateAccepted}
	raw, err := Sign(v, payer)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Chain != v.Chain || d.Nonce != 1 || d.Cond == nil || !bytes.Equal(d.Cond.Job, channelID[:]) {
		t.Fatalf("decoded %+v", d.Voucher)
	}
	if err := d.Verify(&payer.PublicKey); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Encode(d.Body, d.Signature), raw) {
		t.Fatal("re-encoding differs")
	}
}

// Check refuses each bad voucher for its own reason, cheapest first.
func TestCheckRefusals(t *testing.T) {
	payer, other := testKey(t, "payer"), testKey(t, "other")
	lanes := []Lane{{ID: 0, Nonce: 5, Amount: 40}, {ID: 9, Nonce: 1, Amount: 30}}
	full := make([]Lane, MaxLanes)
	for i := range full {
		full[i] = Lane{ID: uint64(i) * 2, Nonce: 1, Amount: 1}
	}
	for _, c := range []struct {
		name  string
		edit  func(*Voucher)
		key   *ecdsa.PrivateKey
		lanes []Lane
		want  error
	}{
		{"another chain", func(v *Voucher) { v.Chain = "staging" }, payer, lanes, ErrWrongChain},
		{"another contract", func(v *Voucher) { v.Contract = "paych2" }, payer, lanes, ErrWrongContract},
		{"another channel", func(v *Voucher) { v.Channel = bytes.Repeat([]byte{1}, 32) }, payer, lanes, ErrWrongChannel},
		{"an equal nonce", func(v *Voucher) { v.Nonce, v.Amount = 5, 50 }, payer, lanes, ErrStaleNonce},
		{"a lower nonce", func(v *Voucher) { v.Nonce, v.Amount = 4, 50 }, payer, lanes, ErrStaleNonce},
		{"a lower amount", func(v *Voucher) { v.Nonce, v.Amount = 6, 39 }, payer, lanes, ErrAmountDecreased},
		{"one lane too many", func(v *Voucher) { v.Lane = 1 }, payer, full, ErrTooManyLanes},
		{"above the deposit", func(v *Voucher) { v.Nonce, v.Amount = 6, 101 }, payer, lanes, ErrAboveDeposit},
		{"lanes past the deposit", func(v *Voucher) { v.Nonce, v.Amount = 6, 71 }, payer, lanes, ErrLanesAboveDeposit},
		{"a new lane past the deposit", func(v *Voucher) { v.Lane, v.Amount = 3, 31 }, payer, lanes, ErrLanesAboveDeposit},
		{"another signer", func(v *Voucher) { v.Nonce, v.Amount = 6, 50 }, other, lanes, ErrNotPayer},
	} {
		v := base()
		c.edit(&v)
		_, err := Check(mustSign(t, v, c.key), view(payer, 100, c.lanes...))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// at the limits
	v := base()
	v.Nonce, v.Amount = 6, 70
	e, err := Check(mustSign(t, v, payer), view(payer, 100, lanes...))
	if err != nil || e.Increment != 30 || e.Total != 100 || e.Lane != (Lane{ID: 0, Nonce: 6, Amount: 70}) {
		t.Fatalf("at the deposit: %+v, %v", e, err)
	}
	v = base()
	v.Lane = 1
	if _, err := Check(mustSign(t, v, payer), view(payer, 100, full[:MaxLanes-1]...)); err != nil {
		t.Fatalf("the last lane: %v", err)
	}
}

func TestApplyKeepsLanesInOrder(t *testing.T) {
	ch := &Channel{}
	for _, id := range []uint64{5, 1, 9, 3, 5} {
		ch.Apply(Effect{Lane: Lane{ID: id, Nonce: id, Amount: id}})
	}
	want := []Lane{{1, 1, 1}, {3, 3, 3}, {5, 5, 5}, {9, 9, 9}}
	if len(ch.Lanes) != len(want) {
		t.Fatalf("lanes %+v", ch.Lanes)
	}
	for i := range want {
		if ch.Lanes[i] != want[i] {
			t.Fatalf("lanes %+v", ch.Lanes)
		}
	}
	if ch.Total() != 18 {
		t.Fatalf("total %d", ch.Total())
	}
}

func TestAccept(t *testing.T) {
	payer := testKey(t, "payer")
	job := sha256.Sum256([]byte("job"))
	plain := base()
	cond := base()
	cond.Cond = &Condition{Job: job[:], State: StateAccepted}
	other := sha256.Sum256([]byte("another job"))
	for _, c := range []struct {
		name string
		v    Voucher
		want Expect
		err  error
	}{
		{"unconditional", plain, Expect{Increment: 10}, nil},
		{"on the job delivered", cond, Expect{Increment: 10, Job: job[:]}, nil},
		{"too little", plain, Expect{Increment: 11}, ErrTooLittle},
		{"conditional, unconditional wanted", cond, Expect{Increment: 10}, ErrWrongCondition},
		{"unconditional, conditional wanted", plain, Expect{Increment: 10, Job: job[:]}, ErrWrongCondition},
		{"on another job", cond, Expect{Increment: 10, Job: other[:]}, ErrWrongCondition},
	} {
		_, err := Accept(mustSign(t, c.v, payer), view(payer, 100), c.want)
		if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	payer := testKey(t, "payer")
	good, err := Sign(base(), payer)
	if err != nil {
		t.Fatal(err)
	}
	body := func(v any) []byte { return Encode(canon.MustMarshal(v), make([]byte, 64)) }
	noNonce := base()
	noNonce.Nonce = 0
	shortChannel := base()
	shortChannel.Channel = channelID[:31]
	badState := base()
	badState.Cond = &Condition{Job: channelID[:], State: "posted"}
	shortJob := base()
	shortJob.Cond = &Condition{Job: channelID[:31], State: StateAccepted}
	noChain := base()
	noChain.Chain = ""
	for name, raw := range map[string][]byte{
		"oversized":      append(good, make([]byte, MaxBytes)...),
		"trailing bytes": append(append([]byte{}, good...), 0),
		"short sig":      canon.MustMarshal(signed{Body: canon.MustMarshal(base()), Signature: make([]byte, 63)}),
		"nonce 0":        body(noNonce),
		"short channel":  body(shortChannel),
		"unknown state":  body(badState),
		"short job":      body(shortJob),
		"no chain":       body(noChain),
		"unknown field":  body(map[int]any{1: "default", 2: "paych", 3: channelID[:], 4: 0, 5: 1, 6: 10, 8: 1}),
		"not canonical":  body(map[int]any{1: "default", 2: "paych", 3: channelID[:], 4: 0, 5: 1, 6: 10, 7: nil}),
	} {
		if _, err := Decode(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A high-S twin of a valid signature is refused: the signature cannot be
// mauled into a second valid voucher.
func TestHighSRefused(t *testing.T) {
	payer := testKey(t, "payer")
	d := mustSign(t, base(), payer)
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(d.Signature[32:])
	high := append([]byte{}, d.Signature...)
	new(big.Int).Sub(n, s).FillBytes(high[32:])
	twin, err := Decode(Encode(d.Body, high))
	if err != nil {
		t.Fatal(err)
	}
	if err := twin.Verify(&payer.PublicKey); !errors.Is(err, ErrNotPayer) {
		t.Fatalf("high S: %v", err)
	}
}

// Every byte of a voucher matters: flipping any bit of it makes it fail
// to decode or to verify.
func TestEveryByteMatters(t *testing.T) {
	payer := testKey(t, "payer")
	v := base()
	v.Cond = &Condition{Job: channelID[:], State: StateAccepted}
	raw, err := Sign(v, payer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := append([]byte{}, raw...)
			bad[i] ^= mask
			d, err := Decode(bad)
			if err != nil {
				continue
			}
			if d.Verify(&payer.PublicKey) == nil {
				t.Fatalf("byte %d ^ %#x still verifies", i, mask)
			}
		}
	}
}
