// Package result encrypts a compute job's output to the job's result key
// and lets the requester decrypt and verify it.
//
// The worker (inside its enclave) streams the program's output through
// Encrypt, stores the ciphertext in sealnet's store and submits its CID,
// the output's size and its commitment (compute.OutputCommitment with the
// job's salt), signed by the attested enclave key, to the chain. The
// requester fetches the ciphertext, decrypts it with the result key's
// private half and checks it against the commitment the chain accepted:
// Open does both.
//
// Format: "SNRSLT1\n", u16be(len(enc)) || enc (the HPKE encapsulated key),
// then chunks u32be(len) || AES-256-GCM ciphertext of at most 64 KiB of
// plaintext, sealed in order by one HPKE context (RFC 9180, DHKEM(P-256,
// HKDF-SHA256), HKDF-SHA256, AES-256-GCM) whose info binds the chain, the
// job and the worker. Each chunk's associated data is its index and
// whether it is the last, so chunks cannot be reordered, dropped or cut
// short without failing: a stream that ends without a last chunk is
// truncated.
package result

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/hpkep256"
)

const (
	magic     = "SNRSLT1\n"
	chunkSize = 64 << 10
	overhead  = 16 // AES-GCM tag
	infoDom   = "sealnet/compute/result/v1\x00"
)

// Errors of Decrypt and Open.
var (
	ErrMalformed  = errors.New("result malformed")
	ErrWrongKey   = errors.New("result not encrypted to this key, for this job, or altered")
	ErrTruncated  = errors.New("result truncated")
	ErrCommitment = errors.New("result does not match the commitment on chain")
)

// Binding names whose result it is.
type Binding struct {
	Chain  string
	Job    string
	Worker identity.Fingerprint
}

func (b Binding) info() []byte {
	out := []byte(infoDom)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Chain)))
	out = append(out, b.Chain...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Job)))
	out = append(out, b.Job...)
	return append(out, b.Worker[:]...)
}

func aad(index uint64, last bool) []byte {
	a := binary.BigEndian.AppendUint64(nil, index)
	if last {
		return append(a, 1)
	}
	return append(a, 0)
}

// Encrypt returns a writer that encrypts to the result key to and writes
// to dst; Close writes the last chunk and must be called.
func Encrypt(dst io.Writer, to *ecdsa.PublicKey, b Binding) (io.WriteCloser, error) {
	enc, sender, err := hpkep256.Sender(to, b.info())
	if err != nil {
		return nil, err
	}
	hdr := append([]byte(magic), binary.BigEndian.AppendUint16(nil, uint16(len(enc)))...)
	if _, err := dst.Write(append(hdr, enc...)); err != nil {
		return nil, err
	}
	return &writer{dst: dst, s: sender, buf: make([]byte, 0, chunkSize)}, nil
}

type writer struct {
	dst    io.Writer
	s      *hpke.Sender
	buf    []byte
	index  uint64
	closed bool
	err    error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("result: write after close")
	}
	n := 0
	for len(p) > 0 {
		// a full buffer is written only once more data follows, so that
		// the last chunk is never empty unless the output is
		if len(w.buf) == chunkSize {
			if w.err = w.flush(false); w.err != nil {
				return n, w.err
			}
		}
		k := copy(w.buf[len(w.buf):chunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p, n = p[k:], n+k
	}
	return n, nil
}

func (w *writer) flush(last bool) error {
	ct, err := w.s.Seal(aad(w.index, last), w.buf)
	if err != nil {
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	_, err = w.dst.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(ct))), ct...))
	return err
}

func (w *writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err == nil {
		w.err = w.flush(true)
	}
	return w.err
}

// Decrypt returns a reader of the plaintext. Each chunk is authenticated
// before it is returned; a stream cut short ends with ErrTruncated, so a
// caller must read to io.EOF before trusting what it read.
func Decrypt(src io.Reader, key *ecdsa.PrivateKey, b Binding) (io.Reader, error) {
	br := bufio.NewReader(src)
	hdr := make([]byte, len(magic)+2)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: no result header", ErrMalformed)
	}
	enc := make([]byte, binary.BigEndian.Uint16(hdr[len(magic):]))
	if len(enc) != 65 {
		return nil, fmt.Errorf("%w: encapsulated key of %d bytes", ErrMalformed, len(enc))
	}
	if _, err := io.ReadFull(br, enc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	r, err := hpkep256.Receiver(key, enc, b.info())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongKey, err)
	}
	return &reader{src: br, r: r}, nil
}

type reader struct {
	src   *bufio.Reader
	r     *hpke.Recipient
	index uint64
	plain []byte
	last  bool
	err   error
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.last {
			if _, err := r.src.ReadByte(); err != io.EOF {
				r.err = fmt.Errorf("%w: data after the last chunk", ErrMalformed)
				return 0, r.err
			}
			r.err = io.EOF
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

func (r *reader) next() error {
	var l [4]byte
	if _, err := io.ReadFull(r.src, l[:]); err != nil {
		return fmt.Errorf("%w: no last chunk", ErrTruncated)
	}
	n := binary.BigEndian.Uint32(l[:])
	if n < overhead || n > chunkSize+overhead {
		return fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, n)
	}
	ct := make([]byte, n)
	if _, err := io.ReadFull(r.src, ct); err != nil {
		return fmt.Errorf("%w: chunk %d cut short", ErrTruncated, r.index)
	}
	// Only the last chunk may be short, and it is followed by nothing:
	// that is how the reader knows which associated data to expect. A
	// full chunk at the end that opens only as "not last" was cut after.
	last := n < chunkSize+overhead
	if !last {
		if _, err := r.src.Peek(1); err == io.EOF {
			last = true
		}
	}
	plain, err := r.r.Open(aad(r.index, last), ct)
	if err != nil {
		if last && n == chunkSize+overhead {
			if _, err := r.r.Open(aad(r.index, false), ct); err == nil {
				return fmt.Errorf("%w: no last chunk", ErrTruncated)
			}
		}
		return ErrWrongKey
	}
	r.index++
	r.plain, r.last = plain, last
	return nil
}

// Open decrypts a result and checks it against the commitment the chain
// accepted for it (the slot's Commitment in attested mode, its Reveal in
// redundant modes), with the job's salt. It holds the output in memory:
// outputs are bounded by the job's limit.
func Open(src io.Reader, key *ecdsa.PrivateKey, b Binding, salt, commitment []byte, limit uint64) ([]byte, error) {
	r, err := Decrypt(src, key, b)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, io.LimitReader(r, int64(limit)+1)); err != nil {
		return nil, err
	}
	if uint64(out.Len()) > limit {
		return nil, fmt.Errorf("%w: more than the job's %d bytes", ErrMalformed, limit)
	}
	if !bytes.Equal(compute.OutputCommitment(salt, b.Job, out.Bytes()), commitment) {
		return nil, ErrCommitment
	}
	return out.Bytes(), nil
}
