package lpframe

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Uvarint decodes the unsigned varint at the start of b, as
// binary.Uvarint does, but strictly: a varint cut short, one that
// overflows 64 bits and one longer than binary.AppendUvarint writes its
// value (such as 0x80 0x00 for zero) are refused, so that every value
// has exactly one encoding. n is the number of bytes read; errors wrap
// ErrMalformed.
func Uvarint(b []byte) (v uint64, n int, err error) {
	v, n, why := uvarint(b)
	if why != "" {
		return 0, 0, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	return v, n, nil
}

// Varint decodes the signed (zig-zag) varint at the start of b as
// binary.Varint does, as strictly as Uvarint.
func Varint(b []byte) (v int64, n int, err error) {
	v, n, why := varint(b)
	if why != "" {
		return 0, 0, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	return v, n, nil
}

// uvarint is Uvarint with the reason for a refusal, or "".
func uvarint(b []byte) (uint64, int, string) {
	v, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, "truncated varint"
	case n < 0:
		return 0, 0, "varint overflows 64 bits"
	case n > 1 && b[n-1] == 0:
		// the last byte holds the value's highest bits: zero there
		// means a shorter encoding exists
		return 0, 0, "non-minimal varint"
	}
	return v, n, ""
}

// varint is Varint with the reason for a refusal, or "". The zig-zag
// mapping is one to one, so a minimal uvarint is a minimal varint.
func varint(b []byte) (int64, int, string) {
	ux, n, why := uvarint(b)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, n, why
}

// Decoder reads the fields of one message of untrusted bytes, in order
// and strictly: varints as Uvarint and Varint read them, lengths within
// the caller's limit and within the message, UTF-8 strings, and nothing
// after the last field (End). Whatever it accepts therefore re-encodes
// to the same bytes.
//
// Its first error sticks and every later read returns a zero value, so a
// caller reads a whole message and checks the error once. Every error
// wraps ErrMalformed (or Malformed, if set) and names the bad field.
type Decoder struct {
	// Malformed, if set, is the error every failure wraps instead of
	// ErrMalformed.
	Malformed error
	// Context, if set, begins the text of every failure ("module
	// response").
	Context string

	b   []byte
	err error
}

// NewDecoder returns a decoder of b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the decoder's first error.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes left.
func (d *Decoder) Len() int { return len(d.b) }

// Fail records a failure, unless one is already recorded: format and
// args describe it, after the sentinel and the context.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if d.Context != "" {
		msg = d.Context + ": " + msg
	}
	sentinel := d.Malformed
	if sentinel == nil {
		sentinel = ErrMalformed
	}
	d.err = fmt.Errorf("%w: %s", sentinel, msg)
}

// Byte reads one byte, the field what.
func (d *Decoder) Byte(what string) byte {
	if d.err != nil || len(d.b) == 0 {
		d.Fail("truncated %s", what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Uint reads an unsigned varint, the field what.
func (d *Decoder) Uint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n, why := uvarint(d.b)
	if why != "" {
		d.Fail("%s: %s", what, why)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Int reads a signed varint, the field what.
func (d *Decoder) Int(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n, why := varint(d.b)
	if why != "" {
		d.Fail("%s: %s", what, why)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Fixed reads the next n bytes, the field what. The result shares the
// decoder's bytes, its capacity capped at n.
func (d *Decoder) Fixed(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.Fail("truncated %s", what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Bytes reads uvarint(len) || bytes of at most max bytes, the field
// what. An empty field is nil; any other shares the decoder's bytes, its
// capacity capped at its length.
func (d *Decoder) Bytes(max int, what string) []byte {
	n := d.Uint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.Fail("%s of %d bytes, limit %d", what, n, max)
		return nil
	}
	if uint64(len(d.b)) < n {
		d.Fail("truncated %s", what)
		return nil
	}
	if n == 0 {
		return nil
	}
	return d.Fixed(int(n), what)
}

// String reads a field as Bytes does, and refuses one that is not UTF-8.
func (d *Decoder) String(max int, what string) string {
	b := d.Bytes(max, what)
	if d.err == nil && !utf8.Valid(b) {
		d.Fail("%s is not UTF-8", what)
	}
	return string(b)
}

// End refuses bytes after the last field and returns the decoder's
// first error.
func (d *Decoder) End() error {
	if d.err == nil && len(d.b) != 0 {
		d.Fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
