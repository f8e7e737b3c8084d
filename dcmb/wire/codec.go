// Package wire holds the DCMB's formats: the frames of /sealnet/dcmb/1,
// the batch with its commitment, and the batch file of spools, archives
// and inboxes (SNDCMB2). Everything here is a pure function of its bytes;
// docs/vectors/dcmb-wire.json and dcmb-batch.json pin the encodings.
//
// Fields are varint-encoded by enc and decoded by dec, a bounded decoder
// whose first error sticks: it refuses non-minimal varints, oversized or
// non-UTF-8 strings and trailing bytes, so that whatever it accepts
// re-encodes to the same bytes (fuzzed: FuzzDecodeFrame, FuzzBatchFile).
package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/sealnet/sealnet/internal/lpframe"
)

// ErrMalformed wraps every decoding failure of untrusted bytes; it is
// the one sentinel of internal/lpframe, shared with the other protocols.
var ErrMalformed = lpframe.ErrMalformed

// Limits of the wire format and of batch files.
const (
	MaxFrame    = 4 << 20  // bytes of one frame
	MaxValue    = 64 << 10 // bytes of one message value
	MaxKey      = 256      // bytes of one message key
	MaxChunk    = 4096     // messages in one chunk frame
	MaxName     = 128      // bytes of a stream or channel name
	MaxBatchLen = 10_000_000
	// chunkBytes ends a chunk frame once its values and keys pass it, so
	// that a frame stays well under MaxFrame.
	chunkBytes = 1 << 20
)

// enc appends fields to a buffer.
type enc struct{ b []byte }

func (e *enc) byte(v byte)     { e.b = append(e.b, v) }
func (e *enc) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(v []byte)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) string(v string) { e.uint(uint64(len(v))); e.b = append(e.b, v...) }

// dec reads fields from untrusted bytes; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *dec) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		d.fail("bad or non-minimal varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(nil, v)) {
		d.fail("bad or non-minimal varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bytes(max int, what string) []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail("%s of %d bytes, limit %d", what, n, max)
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated %s", what)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) fixed(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated %s", what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) string(max int, what string) string {
	b := d.bytes(max, what)
	if d.err == nil && !utf8.Valid(b) {
		d.fail("%s is not UTF-8", what)
	}
	return string(b)
}

func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// WriteFrame writes one frame with its 4-byte length prefix.
func WriteFrame(w io.Writer, b []byte) error { return lpframe.Write(w, b, MaxFrame) }

// ReadFrame reads a length-prefixed frame of 1 to MaxFrame bytes. An
// error reading the prefix comes back as is (io.EOF: the peer ended the
// stream between frames).
func ReadFrame(r io.Reader) ([]byte, error) { return lpframe.Read(r, MaxFrame) }
