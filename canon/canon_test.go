package canon

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

type sample struct {
	A string `cbor:"1,keyasint"`
	B []byte `cbor:"2,keyasint"`
	C uint64 `cbor:"3,keyasint"`
}

// The encoding is frozen: these bytes are signed and hashed on chain.
func TestGolden(t *testing.T) {
	got := MustMarshal(sample{A: "ch", B: []byte{1, 2}, C: 500})
	const want = "a30162636802420102031901f4"
	if hex.EncodeToString(got) != want {
		t.Fatalf("encoding changed: %x, want %s", got, want)
	}
}

func TestRejectsNonCanonical(t *testing.T) {
	good := MustMarshal(sample{A: "x", C: 1})
	var s sample
	if err := Unmarshal(good, &s); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{
		"keys out of order":   "a2030101617840",
		"non-minimal integer": "a201617803180a",
		"indefinite length":   "bf016178ff",
		"duplicate key":       "a201617801617a",
		"unknown field":       "a10918",
		"trailing bytes":      hex.EncodeToString(append(append([]byte{}, good...), 0)),
	} {
		raw, _ := hex.DecodeString(b)
		if err := Unmarshal(raw, &s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	withZero := MustMarshal(map[int]any{1: "x", 3: 0})
	if err := Unmarshal(withZero, &s); err != nil && !errors.Is(err, ErrNonCanonical) {
		t.Fatalf("explicit zero: %v", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(MustMarshal(sample{A: "a", B: []byte("b"), C: 7}))
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		if err := Unmarshal(data, &s); err != nil {
			return
		}
		// accepted bytes are exactly the canonical encoding
		if again := MustMarshal(s); !bytes.Equal(again, data) {
			t.Fatalf("accepted %x but encodes as %x", data, again)
		}
	})
}
