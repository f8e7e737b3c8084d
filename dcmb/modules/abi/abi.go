// Package abi is the module side of the DCMB module interface: a DCMB
// module is a WASI preview 1 program that reads batches of messages on
// standard input and writes, for each, the outputs it derives (labels,
// validated or reduced values) on standard output. The sealnet node runs
// it in its sandbox, without network, files or a real clock, and takes
// only the outputs its certification declares.
//
// The format, byte for byte (uvarint as encoding/binary; svarint its
// zig-zag form):
//
//	request  = "SNDMIN01" uvarint(first_seq) uvarint(count) message*count
//	message  = uvarint(len(key)) key uvarint(len(value)) value svarint(time)
//	response = "SNDMOU01" output* 0x00
//	output   = 0x01 uvarint(index) uvarint(len(name)) name uvarint(len(text)) text
//
// Message i of a request has sequence number first_seq+i and the time its
// source read it (Unix ns); an output names the message it is about by
// index (0 <= index < count). A module answers every request with one
// response, in order, and may serve several requests in one run; it ends
// at the end of its input. Keys are at most 256 bytes, values 64 KiB,
// output names 64 bytes, output texts 1 KiB.
//
// Serve does all of this: a module's main calls it with its function of
// one batch.
package abi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Bounds the node holds to.
const (
	MaxKey   = 256
	MaxValue = 64 << 10
	MaxName  = 64
	MaxText  = 1 << 10
)

var (
	requestMagic  = []byte("SNDMIN01")
	responseMagic = []byte("SNDMOU01")
)

// ErrMalformed reports a request that breaks the format.
var ErrMalformed = errors.New("malformed request")

// Message is one message of a batch. Key and Value are valid until the
// next call of Batch.Next.
type Message struct {
	Index uint64 // its place in the batch; its sequence number is Batch.First+Index
	Key   []byte
	Value []byte
	Time  int64 // when the source read it, Unix ns
}

// Batch is one request being read.
type Batch struct {
	First uint64 // the sequence number of the batch's first message
	Count uint64 // its messages

	in  *input
	w   *bufio.Writer
	cur Message
	n   uint64 // messages read
	err error
}

// Next reads the next message; false at the end of the batch or on an
// error (Err).
func (b *Batch) Next() bool {
	if b.err != nil || b.n == b.Count {
		return false
	}
	b.cur.Index = b.n
	if b.in.quick(&b.cur) {
		b.n++
		return true
	}
	var err error
	if b.cur.Key, err = b.in.field(MaxKey); err == nil {
		b.cur.Value, err = b.in.field(MaxValue)
	}
	if err == nil {
		var u uint64
		u, err = b.in.uvarint()
		b.cur.Time = int64(u>>1) ^ -int64(u&1)
	}
	if err != nil {
		b.err = fmt.Errorf("%w: message %d: %v", ErrMalformed, b.n, err)
		return false
	}
	b.n++
	return true
}

// Message is the message Next read.
func (b *Batch) Message() *Message { return &b.cur }

// Err is the first error reading the batch.
func (b *Batch) Err() error { return b.err }

// Emit writes an output about the message Next read last.
func (b *Batch) Emit(name, text string) {
	if b.n == 0 {
		panic("abi: Emit before Next")
	}
	b.EmitAt(b.n-1, name, text)
}

// EmitAt writes an output about message index of the batch.
func (b *Batch) EmitAt(index uint64, name, text string) {
	var buf [3 * binary.MaxVarintLen64]byte
	b.w.WriteByte(1)
	b.w.Write(binary.AppendUvarint(buf[:0], index))
	b.w.Write(binary.AppendUvarint(buf[:0], uint64(len(name))))
	b.w.WriteString(name)
	b.w.Write(binary.AppendUvarint(buf[:0], uint64(len(text))))
	b.w.WriteString(text)
}

// input reads fields from a buffer refilled from the reader: a module
// reads many thousands of messages a batch, and WebAssembly makes every
// call through an interface dear.
type input struct {
	r   io.Reader
	buf []byte // buf[off:] is unread
	off int
	eof bool
}

// quick reads a message that lies whole in the buffer, with short
// lengths and a time of at most 9 bytes, without a call per field: the
// common case, and WebAssembly makes calls dear. It reads nothing and
// returns false otherwise.
func (in *input) quick(m *Message) bool {
	buf := in.buf[in.off:]
	if len(buf) < 2 || buf[0] >= 0x80 {
		return false
	}
	kl := int(buf[0])
	i := 1 + kl
	if kl > MaxKey || len(buf) < i+2 {
		return false
	}
	vl := int(buf[i])
	i++
	if vl >= 0x80 {
		if buf[i] >= 0x80 {
			return false
		}
		vl = vl&0x7f | int(buf[i])<<7
		i++
	}
	if vl > MaxValue || len(buf) < i+vl+binary.MaxVarintLen64 {
		return false
	}
	key, value := buf[1:1+kl:1+kl], buf[i:i+vl:i+vl]
	i += vl
	var u uint64
	for j := 0; ; j++ {
		c := buf[i]
		i++
		u |= uint64(c&0x7f) << (7 * j)
		if c < 0x80 {
			break
		}
		if j == 8 {
			return false
		}
	}
	m.Key, m.Value, m.Time = key, value, int64(u>>1)^-int64(u&1)
	in.off += i
	return true
}

// fill makes n bytes readable, or fails at the end of the input.
func (in *input) fill(n int) error {
	for len(in.buf)-in.off < n {
		if in.eof {
			return io.ErrUnexpectedEOF
		}
		if in.off > 0 {
			in.buf = in.buf[:copy(in.buf, in.buf[in.off:])]
			in.off = 0
		}
		if cap(in.buf) < n {
			in.buf = append(make([]byte, 0, max(n, 2*cap(in.buf))), in.buf...)
		}
		m, err := in.r.Read(in.buf[len(in.buf):cap(in.buf)])
		in.buf = in.buf[:len(in.buf)+m]
		if err == io.EOF {
			in.eof = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (in *input) uvarint() (uint64, error) {
	if len(in.buf)-in.off < binary.MaxVarintLen64 {
		if err := in.fill(binary.MaxVarintLen64); err != nil && len(in.buf) == in.off {
			return 0, err
		}
	}
	v, n := binary.Uvarint(in.buf[in.off:])
	if n <= 0 {
		return 0, errors.New("bad varint")
	}
	in.off += n
	return v, nil
}

// field reads a length-prefixed field of at most limit bytes; it aliases
// the buffer until the next read.
func (in *input) field(limit uint64) ([]byte, error) {
	n, err := in.uvarint()
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("length %d over %d", n, limit)
	}
	if err := in.fill(int(n)); err != nil {
		return nil, err
	}
	v := in.buf[in.off : in.off+int(n) : in.off+int(n)]
	in.off += int(n)
	return v, nil
}

// atEnd reports whether the input ended between requests.
func (in *input) atEnd() bool {
	if len(in.buf) > in.off {
		return false
	}
	return in.fill(1) != nil && in.eof && len(in.buf) == in.off
}

// Serve answers every request on in with process's outputs on out, until
// in ends. process reads the batch's messages with Next and emits outputs
// as it goes; messages it leaves unread are skipped. An error of process
// or of the input ends Serve: the module should then exit non-zero, and
// the node drops the batch with that reason.
func Serve(r io.Reader, out io.Writer, process func(*Batch) error) error {
	in := &input{r: r, buf: make([]byte, 0, 64<<10)}
	w := bufio.NewWriterSize(out, 16<<10)
	for !in.atEnd() {
		if err := in.fill(len(requestMagic)); err != nil || string(in.buf[in.off:in.off+len(requestMagic)]) != string(requestMagic) {
			return fmt.Errorf("%w: no request header", ErrMalformed)
		}
		in.off += len(requestMagic)
		first, err1 := in.uvarint()
		count, err2 := in.uvarint()
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("%w: header: %v", ErrMalformed, err)
		}
		b := &Batch{First: first, Count: count, in: in, w: w}
		w.Write(responseMagic)
		if err := process(b); err != nil {
			return err
		}
		for b.Next() { // what process left unread
		}
		if b.err != nil {
			return b.err
		}
		w.WriteByte(0)
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return w.Flush()
}
