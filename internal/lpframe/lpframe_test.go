package lpframe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, []byte("abc"), 8); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), []byte{0, 0, 0, 3, 'a', 'b', 'c'}) {
		t.Fatalf("framed % x", b.Bytes())
	}
	got, err := Read(&b, 8)
	if err != nil || string(got) != "abc" {
		t.Fatalf("read %q %v", got, err)
	}
	if _, err := Read(&b, 8); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
	if err := Write(&b, make([]byte, 9), 8); !errors.Is(err, ErrMalformed) || b.Len() != 0 {
		t.Fatalf("oversized write: %v, %d bytes written", err, b.Len())
	}
	for name, raw := range map[string][]byte{
		"empty":     {0, 0, 0, 0},
		"oversized": {0, 0, 0, 9},
		"truncated": {0, 0, 0, 3, 'a'},
		"huge":      {0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := Read(bytes.NewReader(raw), 8); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestVarintFields(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	for _, f := range [][]byte{[]byte("cid"), bytes.Repeat([]byte{7}, 200), nil} {
		if err := WriteVarint(w, f); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	raw := append([]byte(nil), b.Bytes()...)
	if want := AppendVarint(AppendVarint(AppendVarint(nil, []byte("cid")), bytes.Repeat([]byte{7}, 200)), nil); !bytes.Equal(raw, want) {
		t.Fatal("WriteVarint and AppendVarint differ")
	}
	if raw[0] != 3 || raw[4] != 0xc8 || raw[5] != 0x01 || raw[len(raw)-1] != 0 {
		t.Fatalf("prefixes % x", raw)
	}
	r := bufio.NewReader(&b)
	for _, want := range []int{3, 200, 0} {
		f, err := ReadVarint(r, 256)
		if err != nil || len(f) != want || f == nil {
			t.Fatalf("field of %d: %d bytes, %v", want, len(f), err)
		}
	}
	if _, err := ReadVarint(bufio.NewReader(bytes.NewReader([]byte{0xc8, 0x01})), 100); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized field: %v", err)
	}
	if _, err := ReadVarint(bufio.NewReader(bytes.NewReader([]byte{3, 'a'})), 100); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated field: %v", err)
	}
	// a length has one encoding: 0x83 0x00 is 3 written long
	if _, err := ReadVarint(bufio.NewReader(bytes.NewReader([]byte{0x83, 0x00, 'a', 'b', 'c'})), 100); !errors.Is(err, ErrMalformed) {
		t.Errorf("non-minimal length: %v", err)
	}
	if _, err := ReadVarint(bufio.NewReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 11))), 100); !errors.Is(err, ErrMalformed) {
		t.Errorf("overflowing length: %v", err)
	}
	if _, err := ReadVarint(bufio.NewReader(bytes.NewReader(nil)), 100); err != io.EOF {
		t.Errorf("end of stream before a field: %v", err)
	}
	if _, err := ReadVarint(bufio.NewReader(bytes.NewReader([]byte{0x80})), 100); err != io.ErrUnexpectedEOF {
		t.Errorf("end of stream inside a length: %v", err)
	}
}

// Whatever ReadVarint accepts re-frames to the same bytes.
func FuzzReadVarint(f *testing.F) {
	f.Add([]byte{3, 'c', 'i', 'd', 0})
	f.Add([]byte{0x83, 0x00, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := bufio.NewReader(bytes.NewReader(raw))
		b, err := ReadVarint(r, 1<<10)
		if err != nil {
			return
		}
		if again := AppendVarint(nil, b); !bytes.Equal(again, raw[:len(again)]) {
			t.Fatalf("re-framed % x as % x", raw[:len(again)], again)
		}
	})
}

// Whatever Read accepts re-frames to the same bytes.
func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := Read(bytes.NewReader(raw), 1<<10)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := Write(&again, b, 1<<10); err != nil || !bytes.Equal(again.Bytes(), raw[:4+len(b)]) {
			t.Fatalf("re-framed differently: %v", err)
		}
	})
}
