package dcmb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
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
		got, err := DecodeFrame(encodeFrame(f))
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
	good := encodeFrame(&Chunk{Msgs: []Message{{Seq: 1, Key: "k", Value: []byte("v")}}})
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
		if _, err := DecodeFrame(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	var buf bytes.Buffer
	buf.Write([]byte{0xff, 0xff, 0xff, 0xff})
	if _, err := readFrame(&buf); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized frame: %v", err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeFrame(&Hello{Channel: "c", Stream: "s", Mode: "sealed", Deliver: "values", Secret: make([]byte, 32)}))
	f.Add(encodeFrame(&Chunk{Msgs: []Message{{Seq: 1, Key: "k", Value: []byte("v"), Time: 2}}}))
	f.Add(encodeFrame(&Leaves{Leaves: [][]byte{make([]byte, 32)}, Keys: []string{"k"}, Times: []int64{1}}))
	f.Add(encodeFrame(&Reject{Seq: 1, Reason: "r"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeFrame(b)
		if err != nil {
			return
		}
		// what decodes re-encodes to the same bytes
		if again := encodeFrame(v); !bytes.Equal(again, b) {
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

// A spool directory survives reopening: what Put returned for is there,
// and a torn temporary file is cleaned up.
func TestDirDurable(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, first := range []uint64{0, 3, 7} {
		b := &Batch{Stream: "s", Mode: "sealed", FirstSeq: first, Count: 1, Root: make([]byte, 32), Msgs: []Message{{Seq: first, Value: []byte("x")}}}
		if err := d.Put(b); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir+"/00000000000000000009.batch.tmp", []byte("torn"))
	d2, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := d2.List(); !reflect.DeepEqual(got, []uint64{0, 3, 7}) || d2.Bytes() != d.Bytes() {
		t.Fatalf("reopened %v %d bytes, want [0 3 7] %d", got, d2.Bytes(), d.Bytes())
	}
	if first, ok := d2.Find(5); !ok || first != 3 {
		t.Fatalf("Find(5) = %d %v", first, ok)
	}
}

// Prune deletes the batches written before a time, oldest first, and
// keeps the size accounting right.
func TestDirPrune(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, first := range []uint64{0, 3, 7} {
		b := &Batch{Stream: "s", Mode: "sealed", FirstSeq: first, Count: 1, Root: make([]byte, 32), Msgs: []Message{{Seq: first, Value: []byte("x")}}}
		if err := d.Put(b); err != nil {
			t.Fatal(err)
		}
		if first < 7 {
			os.Chtimes(filepath.Join(dir, batchName(first)), old, old)
		}
	}
	one := d.Bytes() / 3
	n, err := d.Prune(time.Now().Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	if got := d.List(); !reflect.DeepEqual(got, []uint64{7}) || d.Bytes() != one {
		t.Fatalf("left %v, %d bytes", got, d.Bytes())
	}
	if _, err := d.Get(7); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
