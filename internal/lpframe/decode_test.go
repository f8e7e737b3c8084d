package lpframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestUvarint(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 - 1, 1 << 56, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		b := binary.AppendUvarint(nil, v)
		got, n, err := Uvarint(append(b, 0xff)) // a byte after it is not read
		if err != nil || got != v || n != len(b) {
			t.Errorf("%d (% x): %d, %d bytes, %v", v, b, got, n, err)
		}
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":                 {nil, "truncated varint"},
		"cut short":             {[]byte{0x80}, "truncated varint"},
		"cut short, long":       {[]byte{0xff, 0xff, 0xff}, "truncated varint"},
		"zero in two bytes":     {[]byte{0x80, 0x00}, "non-minimal varint"},
		"one in two bytes":      {[]byte{0x81, 0x00}, "non-minimal varint"},
		"127 in three bytes":    {[]byte{0xff, 0x80, 0x00}, "non-minimal varint"},
		"zero in ten bytes":     {[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, "non-minimal varint"},
		"65 bits":               {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, "overflows"},
		"64 bits and one more":  {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00}, "overflows"},
		"eleven bytes of zero":  {[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, "overflows"},
		"max, continued":        {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "overflows"},
		"all continuation bits": {bytes.Repeat([]byte{0x80}, 12), "overflows"},
	} {
		v, n, err := Uvarint(c.b)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) || v != 0 || n != 0 {
			t.Errorf("%s (% x): %d, %d bytes, %v; want malformed: %s", name, c.b, v, n, err, c.want)
		}
	}
}

func TestVarint(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64} {
		b := binary.AppendVarint(nil, v)
		got, n, err := Varint(b)
		if err != nil || got != v || n != len(b) {
			t.Errorf("%d (% x): %d, %d bytes, %v", v, b, got, n, err)
		}
	}
	for _, b := range [][]byte{nil, {0x81}, {0x81, 0x00}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}} {
		if _, _, err := Varint(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v, want ErrMalformed", b, err)
		}
	}
}

func TestDecoder(t *testing.T) {
	var b []byte
	b = append(b, 'K')
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = AppendVarint(b, []byte("name"))
	b = AppendVarint(b, nil)
	b = append(b, 1, 2, 3)
	d := NewDecoder(b)
	k, u, i := d.Byte("kind"), d.Uint("count"), d.Int("time")
	s, empty, fixed := d.String(8, "name"), d.Bytes(8, "value"), d.Fixed(3, "hash")
	if err := d.End(); err != nil || k != 'K' || u != 300 || i != -5 || s != "name" || empty != nil || !bytes.Equal(fixed, []byte{1, 2, 3}) {
		t.Fatalf("read %c %d %d %q %v %v: %v", k, u, i, s, empty, fixed, err)
	}
	if cap(fixed) != 3 {
		t.Errorf("a field's capacity reaches past it: %d", cap(fixed))
	}

	other := errors.New("malformed frame")
	for _, c := range []struct {
		name string
		b    []byte
		read func(*Decoder)
		want string
	}{
		{"no byte", nil, func(d *Decoder) { d.Byte("kind") }, "truncated kind"},
		{"non-minimal", []byte{0x80, 0x00}, func(d *Decoder) { d.Uint("count") }, "count: non-minimal varint"},
		{"overflow", bytes.Repeat([]byte{0xff}, 11), func(d *Decoder) { d.Int("time") }, "time: varint overflows"},
		{"non-minimal length", []byte{0x83, 0x00, 'a', 'b', 'c'}, func(d *Decoder) { d.Bytes(8, "value") }, "value length: non-minimal varint"},
		{"oversized", []byte{9}, func(d *Decoder) { d.Bytes(8, "value") }, "value of 9 bytes, limit 8"},
		{"truncated field", []byte{3, 'a'}, func(d *Decoder) { d.String(8, "name") }, "truncated name"},
		{"truncated fixed", []byte{1, 2}, func(d *Decoder) { d.Fixed(3, "hash") }, "truncated hash"},
		{"not UTF-8", []byte{1, 0xff}, func(d *Decoder) { d.String(8, "name") }, "name is not UTF-8"},
		{"trailing", []byte{1, 2}, func(d *Decoder) { d.Byte("kind") }, "1 trailing bytes"},
		{"first error sticks", []byte{0x80, 0x00, 1}, func(d *Decoder) { d.Uint("count"); d.Fail("later"); d.Byte("kind") }, "count: non-minimal"},
	} {
		for _, sentinel := range []error{nil, other} {
			d := NewDecoder(c.b)
			d.Malformed, d.Context = sentinel, "test message"
			c.read(d)
			err := d.End()
			want := sentinel
			if want == nil {
				want = ErrMalformed
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), "test message: "+c.want) {
				t.Errorf("%s: %v, want %v: test message: %s", c.name, err, want, c.want)
			}
			if sentinel != nil && errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v wraps ErrMalformed as well as its own sentinel", c.name, err)
			}
		}
	}

	// after an error every read is a zero value
	d = NewDecoder([]byte{0x80, 0x00, 5, 1, 2, 3, 4, 5})
	if d.Uint("count") != 0 || d.Bytes(8, "value") != nil || d.String(8, "name") != "" || d.Fixed(1, "hash") != nil || d.Byte("kind") != 0 || d.Err() == nil {
		t.Fatal("a read after an error returned a value")
	}
}

// Uvarint and Varint accept exactly what binary.Uvarint and
// binary.Varint decode to a value binary.AppendUvarint and
// binary.AppendVarint encode to the same bytes, and a Decoder reads the
// same.
func FuzzUvarint(f *testing.F) {
	for _, b := range [][]byte{{0}, {0x80, 0x00}, {0xac, 0x02}, {0x80}, bytes.Repeat([]byte{0xff}, 10), append(bytes.Repeat([]byte{0xff}, 9), 1)} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Uvarint(b)
		wv, wn := binary.Uvarint(b)
		minimal := wn > 0 && bytes.Equal(binary.AppendUvarint(nil, wv), b[:wn])
		if (err == nil) != minimal {
			t.Fatalf("% x: Uvarint %d, %d, %v; binary.Uvarint %d, %d (minimal %t)", b, v, n, err, wv, wn, minimal)
		}
		if err == nil && (v != wv || n != wn) {
			t.Fatalf("% x: %d in %d bytes, want %d in %d", b, v, n, wv, wn)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("% x: %v does not wrap ErrMalformed", b, err)
		}

		s, sn, serr := Varint(b)
		ws, wsn := binary.Varint(b)
		sminimal := wsn > 0 && bytes.Equal(binary.AppendVarint(nil, ws), b[:wsn])
		if (serr == nil) != sminimal || (serr == nil && (s != ws || sn != wsn)) {
			t.Fatalf("% x: Varint %d, %d, %v; binary.Varint %d, %d (minimal %t)", b, s, sn, serr, ws, wsn, sminimal)
		}

		d := NewDecoder(b)
		if dv := d.Uint("v"); (d.Err() == nil) != (err == nil) || dv != v || (err == nil && d.Len() != len(b)-n) {
			t.Fatalf("% x: the decoder read %d, %v", b, dv, d.Err())
		}
	})
}
