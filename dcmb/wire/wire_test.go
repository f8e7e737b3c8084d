package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	frames := []any{
		&Hello{Channel: "default", Stream: "press-7", Mode: "sealed", Deliver: DeliverValues, Secret: bytes.Repeat([]byte{7}, 32)},
		&Welcome{Next: 1 << 40},
		&Head{FirstSeq: 5, Count: 3},
		&Chunk{Msgs: []Message{{Seq: 5, Key: "counter", Value: []byte("5367"), Time: -1}, {Seq: 6, Key: "", Value: nil, Time: 9}}},
		&Leaves{Leaves: [][]byte{bytes.Repeat([]byte{1}, 32)}, Keys: []string{"k"}, Times: []int64{3}},
		&Ack{Next: 8},
		&Reject{Seq: 5, Reason: "messages do not match the anchored root"},
	}
	for _, f := range frames {
		got, err := Decode(Encode(f))
		if err != nil {
			t.Fatalf("%T: %v", f, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Fatalf("%T: got %+v want %+v", f, got, f)
		}
	}
}

// Truncated, padded, oversized and unknown frames are refused with a
// specific error.
func TestFrameRejects(t *testing.T) {
	good := Encode(&Chunk{Msgs: []Message{{Seq: 1, Key: "k", Value: []byte("v")}}})
	cases := map[string][]byte{
		"empty":      {},
		"unknown":    {'Z'},
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte{}, good...), 0),
		"zero msgs":  {kindChunk, 0},
		"too many":   append([]byte{kindChunk}, 0x81, 0x40), // 8193
		"nonminimal": {kindAck, 0x80, 0x00},
		"big value":  append([]byte{kindChunk, 1, 1, 0}, 0x81, 0x80, 0x04), // 65537-byte value
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	var buf bytes.Buffer
	buf.Write([]byte{0xff, 0xff, 0xff, 0xff})
	if _, err := ReadFrame(&buf); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized frame: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(&Hello{Channel: "c", Stream: "s", Mode: "sealed", Deliver: "values", Secret: make([]byte, 32)}))
	f.Add(Encode(&Chunk{Msgs: []Message{{Seq: 1, Key: "k", Value: []byte("v"), Time: 2}}}))
	f.Add(Encode(&Leaves{Leaves: [][]byte{make([]byte, 32)}, Keys: []string{"k"}, Times: []int64{1}}))
	f.Add(Encode(&Reject{Seq: 1, Reason: "r"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		// what decodes re-encodes to the same bytes
		if again := Encode(v); !bytes.Equal(again, b) {
			t.Fatalf("%T re-encodes differently", v)
		}
	})
}

func TestBatchFileRoundTrip(t *testing.T) {
	b := &Batch{Stream: "press-7", Mode: "sealed", FirstSeq: 10, Count: 2, Start: 1, End: 2, Root: bytes.Repeat([]byte{3}, 32),
		Created: 4, Msgs: []Message{{Seq: 10, Key: "k", Value: []byte("a"), Time: 1}, {Seq: 11, Key: "k", Value: []byte("b"), Time: 2}}}
	raw, _ := b.MarshalBinary()
	var got Batch
	if err := got.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, b) {
		t.Fatalf("got %+v", got)
	}
	for i := range raw {
		alt := append([]byte(nil), raw...)
		alt[i] ^= 0x10
		if err := got.UnmarshalBinary(alt); err == nil {
			t.Fatalf("a batch file damaged at byte %d was read", i)
		}
	}
}

// A damaged or hostile batch file is refused, never a panic or a huge
// allocation.
func FuzzBatchFile(f *testing.F) {
	b := &Batch{Stream: "press-7", Mode: "sealed", FirstSeq: 10, Count: 1, Root: bytes.Repeat([]byte{3}, 32),
		Msgs: []Message{{Seq: 10, Key: "k", Value: []byte("a"), Time: 1}}}
	raw, _ := b.MarshalBinary()
	f.Add(raw)
	d := &Batch{Stream: "press-7", Mode: "sealed", FirstSeq: 3, Count: 4, Dropped: "spool full"}
	raw, _ = d.MarshalBinary()
	f.Add(raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b Batch
		if b.UnmarshalBinary(raw) != nil {
			return
		}
		again, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("a batch file read back differently: %v", err)
		}
	})
}
