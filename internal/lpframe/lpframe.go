// Package lpframe holds the length-prefixed framing shared by sealnet's
// stream protocols, and the one error every decoder of untrusted bytes
// wraps.
//
// Two prefixes are in use, and both are frozen by golden vectors:
//
//   - Write and Read: u32be(len(b)) || b, one message per frame
//     (/sealnet/dcmb/1 and /sealnet/keyreq/1);
//   - AppendVarint, WriteVarint and ReadVarint: uvarint(len(b)) || b, the
//     fields of /sealnet/dag/1, where a zero length ends the stream.
//
// Readers bound every length before allocating, so a hostile peer cannot
// make them reserve more than the caller's limit.
//
// Uvarint, Varint and Decoder read the fields inside a message strictly
// (minimal varints, bounded lengths, no trailing bytes), for the formats
// whose decoders must accept exactly one encoding of each value.
package lpframe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed wraps every failure to decode untrusted bytes: a frame,
// or a message or file carried in one.
var ErrMalformed = errors.New("malformed")

// Write writes b as one frame, u32be(len(b)) || b. A frame of more than
// max bytes is refused before anything is written.
func Write(w io.Writer, b []byte, max int) error {
	if len(b) > max {
		return fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMalformed, len(b), max)
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// Read reads one frame of 1 to max bytes. An error reading the prefix is
// returned as is (io.EOF: the peer ended the stream between frames); an
// empty or oversized frame, or one cut short, is ErrMalformed.
func Read(r io.Reader, max int) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size == 0 || uint64(size) > uint64(max) {
		return nil, fmt.Errorf("%w: frame of %d bytes, want 1-%d", ErrMalformed, size, max)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: truncated frame: %v", ErrMalformed, err)
	}
	return b, nil
}

// AppendVarint appends uvarint(len(b)) || b to dst.
func AppendVarint(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// WriteVarint writes uvarint(len(b)) || b; an empty b writes the single
// zero byte that ends a /sealnet/dag/1 stream.
func WriteVarint(w io.Writer, b []byte) error {
	var n [binary.MaxVarintLen64]byte
	if _, err := w.Write(binary.AppendUvarint(n[:0], uint64(len(b)))); err != nil || len(b) == 0 {
		return err
	}
	_, err := w.Write(b)
	return err
}

// ByteReader reads both bytes (the prefix) and blocks (the field).
type ByteReader interface {
	io.Reader
	io.ByteReader
}

// ReadVarint reads uvarint(len) || bytes of at most max bytes; a zero
// length returns an empty, non-nil slice. An error reading the prefix is
// returned as is (io.EOF before its first byte); a prefix that is not
// the minimal uvarint (as Uvarint), an oversized or a truncated field is
// ErrMalformed, so that every field has exactly one encoding.
func ReadVarint(r ByteReader, max int) ([]byte, error) {
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: field of %d bytes, limit %d", ErrMalformed, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: truncated field: %v", ErrMalformed, err)
	}
	return b, nil
}

// readUvarint reads one uvarint byte by byte, as strictly as Uvarint.
func readUvarint(r io.ByteReader) (uint64, error) {
	var buf [binary.MaxVarintLen64]byte
	for i := range buf {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		buf[i] = c
		if c < 0x80 {
			v, _, err := Uvarint(buf[:i+1])
			return v, err
		}
	}
	return 0, fmt.Errorf("%w: varint overflows 64 bits", ErrMalformed)
}
