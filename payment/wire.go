package payment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/internal/lpframe"
)

// Protocol is the libp2p protocol the payer's node sends vouchers on.
const Protocol = "/sealnet/voucher/1"

// Limits of the wire format.
const (
	// MaxFrame bounds a frame's bytes after its length prefix: a Welcome
	// carries at most voucher.MaxLanes vouchers.
	MaxFrame = 64 << 10
	// MaxChain bounds a chain's name, as the voucher does.
	MaxChain = 64
	// MaxReason bounds a refusal's text.
	MaxReason = 512
)

// ErrMalformed wraps every decoding failure of a frame (this protocol's
// own sentinel, not internal/lpframe's).
var ErrMalformed = errors.New("malformed frame")

// Frame kinds.
const (
	KindHello   = 'H' // payer -> payee: the channel the stream pays on
	KindWelcome = 'W' // payee -> payer: the latest voucher it holds durably on each lane
	KindVoucher = 'V' // payer -> payee: one voucher, numbered on the stream
	KindAck     = 'A' // payee -> payer: every voucher up to Seq is stored durably
	KindReject  = 'R' // payee -> payer: voucher Seq (0: the Hello) is refused; the stream ends
)

// Frame is one message of the protocol; which fields it carries depends
// on its kind:
//
//	Hello    Chain, Channel
//	Welcome  Vouchers
//	Voucher  Seq, Voucher
//	Ack      Seq
//	Reject   Seq, Code, Reason
type Frame struct {
	Kind     byte
	Chain    string
	Channel  [32]byte
	Seq      uint64
	Voucher  []byte
	Vouchers [][]byte
	Code     Code
	Reason   string
}

// Encode returns the frame's bytes, without the length prefix.
func (f *Frame) Encode() []byte {
	e := &enc{b: []byte{f.Kind}}
	switch f.Kind {
	case KindHello:
		e.string(f.Chain)
		e.b = append(e.b, f.Channel[:]...)
	case KindWelcome:
		e.uint(uint64(len(f.Vouchers)))
		for _, v := range f.Vouchers {
			e.bytes(v)
		}
	case KindVoucher:
		e.uint(f.Seq)
		e.bytes(f.Voucher)
	case KindAck:
		e.uint(f.Seq)
	case KindReject:
		e.uint(f.Seq)
		e.uint(uint64(f.Code))
		e.string(f.Reason)
	}
	return e.b
}

// DecodeFrame reads a frame strictly: a known kind, its fields within
// their bounds, minimal varints and no trailing bytes, so that whatever
// it accepts encodes back to the same bytes.
func DecodeFrame(b []byte) (*Frame, error) {
	if len(b) > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxFrame)
	}
	d := lpframe.NewDecoder(b)
	d.Malformed = ErrMalformed
	f := &Frame{Kind: d.Byte("frame kind")}
	switch f.Kind {
	case KindHello:
		f.Chain = d.String(MaxChain, "chain")
		copy(f.Channel[:], d.Fixed(32, "channel"))
		if d.Err() == nil && f.Chain == "" {
			d.Fail("empty chain")
		}
	case KindWelcome:
		n := d.Uint("voucher count")
		if n > voucher.MaxLanes {
			d.Fail("%d vouchers, limit %d", n, voucher.MaxLanes)
		}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			f.Vouchers = append(f.Vouchers, d.Bytes(voucher.MaxBytes, "voucher"))
		}
	case KindVoucher:
		f.Seq = d.Uint("sequence number")
		f.Voucher = d.Bytes(voucher.MaxBytes, "voucher")
	case KindAck:
		f.Seq = d.Uint("sequence number")
	case KindReject:
		f.Seq = d.Uint("sequence number")
		c := d.Uint("refusal code")
		if c == 0 || c > 255 {
			d.Fail("refusal code %d", c)
		}
		f.Code = Code(c)
		f.Reason = d.String(MaxReason, "reason")
	default:
		d.Fail("unknown kind %q", f.Kind)
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return f, nil
}

// WriteFrame writes f with its 4-byte big-endian length prefix.
func WriteFrame(w io.Writer, f *Frame) error {
	b := f.Encode()
	if len(b) > MaxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(b), MaxFrame)
	}
	out := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(out, uint32(len(b)))
	_, err := w.Write(append(out, b...))
	return err
}

// ReadFrame reads one length-prefixed frame. A length of zero or above
// MaxFrame is refused before anything more is read.
func ReadFrame(r io.Reader) (*Frame, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size == 0 || size > MaxFrame {
		return nil, fmt.Errorf("%w: length %d, want 1 to %d", ErrMalformed, size, MaxFrame)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: truncated: %v", ErrMalformed, err)
	}
	return DecodeFrame(b)
}

// enc appends fields to a buffer.
type enc struct{ b []byte }

func (e *enc) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) bytes(v []byte)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) string(v string) { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
