// Package wire holds the DCMB's formats: the frames of /sealnet/dcmb/1,
// the batch with its commitment, and the batch file of spools, archives
// and inboxes (SNDCMB2). Everything here is a pure function of its bytes;
// docs/vectors/dcmb-wire.json and dcmb-batch.json pin the encodings.
//
// Fields are varint-encoded by enc and decoded by internal/lpframe's
// Decoder, a bounded decoder whose first error sticks: it refuses
// non-minimal varints, oversized or non-UTF-8 strings and trailing bytes,
// so that whatever it accepts re-encodes to the same bytes (fuzzed:
// FuzzDecode, FuzzBatchFile).
package wire

import (
	"encoding/binary"
	"io"

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

// WriteFrame writes one frame with its 4-byte length prefix.
func WriteFrame(w io.Writer, b []byte) error { return lpframe.Write(w, b, MaxFrame) }

// ReadFrame reads a length-prefixed frame of 1 to MaxFrame bytes. An
// error reading the prefix comes back as is (io.EOF: the peer ended the
// stream between frames).
func ReadFrame(r io.Reader) ([]byte, error) { return lpframe.Read(r, MaxFrame) }
