package module

// This file holds the node's side of the module ABI (doc.go): the
// request a batch becomes, encoded as the module reads it, and the strict
// decoding of the module's response.

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/internal/lpframe"
)

// Bounds of a response.
const (
	MaxOutputs = 4096 // outputs of one batch
	MaxName    = 64   // bytes of an output's name
	MaxText    = 1024 // bytes of an output's text
)

// Magic numbers of a request and a response, version 1.
var (
	RequestMagic  = []byte("SNDMIN01")
	ResponseMagic = []byte("SNDMOU01")
)

// ErrMalformed wraps a response that breaks the format (the one sentinel
// of untrusted bytes, internal/lpframe's).
var ErrMalformed = lpframe.ErrMalformed

// Output is one output of a module: a label or a value derived from
// message Index of its batch.
type Output struct {
	Index uint64 `json:"index"`
	Name  string `json:"output"`
	Text  string `json:"text"`
}

// AppendRequestHeader appends a request's header: the magic, the first
// sequence number and the count.
func AppendRequestHeader(b []byte, first, count uint64) []byte {
	b = append(b, RequestMagic...)
	b = binary.AppendUvarint(b, first)
	return binary.AppendUvarint(b, count)
}

// AppendMessage appends one message of a request.
func AppendMessage(b []byte, key string, value []byte, time int64) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	b = append(b, value...)
	return binary.AppendVarint(b, time)
}

// requestReader encodes a batch into its request as it is read, in
// constant memory: a batch may hold hundreds of megabytes.
type requestReader struct {
	msgs []wire.Message
	buf  []byte
	off  int
}

// NewRequest returns the request of messages, the batch starting at
// sequence number first, as a reader.
func NewRequest(first uint64, msgs []wire.Message) io.Reader {
	return &requestReader{msgs: msgs, buf: AppendRequestHeader(make([]byte, 0, 64<<10), first, uint64(len(msgs)))}
}

func (r *requestReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if len(r.msgs) == 0 {
			return 0, io.EOF
		}
		r.buf, r.off = r.buf[:0], 0
		for len(r.msgs) > 0 && len(r.buf) < 32<<10 {
			m := &r.msgs[0]
			r.buf = AppendMessage(r.buf, m.Key, m.Value, m.Time)
			r.msgs = r.msgs[1:]
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// DecodeResponse decodes a module's whole standard output: exactly one
// response for a batch of count messages, nothing after it. Whatever it
// accepts re-encodes to the same bytes (AppendResponse).
func DecodeResponse(b []byte, count uint64) ([]Output, error) {
	if len(b) < len(ResponseMagic) || string(b[:len(ResponseMagic)]) != string(ResponseMagic) {
		return nil, fmt.Errorf("%w: the output does not start with a response (%q)", ErrMalformed, ResponseMagic)
	}
	d := lpframe.NewDecoder(b[len(ResponseMagic):])
	d.Context = "module response"
	var out []Output
	for d.Err() == nil {
		switch kind := d.Byte("response (no end record)"); {
		case d.Err() != nil:
		case kind == 0:
			if d.Len() != 0 {
				d.Fail("%d bytes after the response", d.Len())
			}
			return out, d.Err()
		case kind != 1:
			d.Fail("record kind %d", kind)
		case len(out) == MaxOutputs:
			d.Fail("more than %d outputs", MaxOutputs)
		default:
			o := Output{Index: d.Uint("output index"), Name: d.String(MaxName, "output name"), Text: d.String(MaxText, "output text")}
			if d.Err() == nil && o.Index >= count {
				d.Fail("output %d is about message %d of a batch of %d", len(out), o.Index, count)
			}
			if d.Err() == nil && o.Name == "" {
				d.Fail("output %d has no name", len(out))
			}
			out = append(out, o)
		}
	}
	return nil, d.Err()
}

// AppendResponse appends the response of outputs.
func AppendResponse(b []byte, outs []Output) []byte {
	b = append(b, ResponseMagic...)
	for _, o := range outs {
		b = append(b, 1)
		b = binary.AppendUvarint(b, o.Index)
		b = binary.AppendUvarint(b, uint64(len(o.Name)))
		b = append(b, o.Name...)
		b = binary.AppendUvarint(b, uint64(len(o.Text)))
		b = append(b, o.Text...)
	}
	return append(b, 0)
}
