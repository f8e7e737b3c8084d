// Package seal encrypts a data object for content-addressed storage and
// signs it, in one pass and constant memory, as paper 002's Algorithm 1:
// the owner signs M1 = (ID, T1, data) and encrypts it.
//
// Encryption is Tink's streaming AEAD AES256_GCM_HKDF_1MB (AES-256-GCM
// segments of 1 MiB, sub-keys derived with HKDF-SHA256 from the data key and
// a random salt in the header), a vetted format with independent
// implementations. Each object has its own random 32-byte data key: handing
// one object's key to a requester opens that object only (the paper uses one
// AES key per enterprise, which would open all of its data), and destroying
// the key shreds the object whatever copies of the ciphertext exist.
//
// The plaintext inside the stream is the data followed by a fixed trailer:
// "sealnet\x01", the owner's certificate fingerprint, T1 (Unix ns), the data
// size and the owner's signature over SHA-256("sealnet/m1/v1\0" || data ||
// fingerprint || T1 || size) (the fixed-size fields last, so both sides hash
// the data as it streams). The reader holds back the trailer and verifies
// the signature at the end of the stream.
package seal

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/tink-crypto/tink-go/v2/streamingaead/subtle"

	"github.com/sealnet/sealnet/identity"
)

// KeySize is the size of a data key.
const KeySize = 32

// segmentSize is the ciphertext segment size of AES256_GCM_HKDF_1MB.
const segmentSize = 1 << 20

const (
	magic      = "sealnet\x01"
	trailerLen = len(magic) + 32 + 8 + 8 + identity.SignatureSize
	m1Domain   = "sealnet/m1/v1\x00"
)

var aad = []byte("sealnet/data/v1")

// Errors of Decrypt.
var (
	ErrWrongKey     = errors.New("wrong data key or damaged ciphertext")
	ErrTruncated    = errors.New("ciphertext truncated")
	ErrBadSignature = errors.New("owner signature on the data does not verify")
	ErrWrongOwner   = errors.New("data was signed by another owner")
)

// DataKey is one object's key.
type DataKey [KeySize]byte

// NewDataKey returns a random key.
func NewDataKey() (DataKey, error) {
	var k DataKey
	_, err := rand.Read(k[:])
	return k, err
}

func primitive(k DataKey) (*subtle.AESGCMHKDF, error) {
	return subtle.NewAESGCMHKDF(k[:], "SHA256", KeySize, segmentSize, 0)
}

func newM1() hash.Hash {
	h := sha256.New()
	h.Write([]byte(m1Domain))
	return h
}

// m1Tail is what follows the data in the signed digest.
func m1Tail(owner identity.Fingerprint, t1 int64, size uint64) []byte {
	b := append([]byte{}, owner[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(t1))
	return binary.BigEndian.AppendUint64(b, size)
}

type writer struct {
	enc   io.WriteCloser
	h     hash.Hash
	n     uint64
	owner *identity.Identity
	t1    time.Time
}

// Encrypt returns a writer that signs and encrypts what is written to it
// into dst; Close writes the signed trailer and flushes the last segment.
func Encrypt(dst io.Writer, key DataKey, owner *identity.Identity, t1 time.Time) (io.WriteCloser, error) {
	p, err := primitive(key)
	if err != nil {
		return nil, err
	}
	enc, err := p.NewEncryptingWriter(dst, aad)
	if err != nil {
		return nil, err
	}
	return &writer{enc: enc, h: newM1(), owner: owner, t1: t1}, nil
}

func (w *writer) Write(b []byte) (int, error) {
	w.h.Write(b)
	w.n += uint64(len(b))
	return w.enc.Write(b)
}

func (w *writer) Close() error {
	tail := m1Tail(w.owner.Member.Fingerprint, w.t1.UnixNano(), w.n)
	w.h.Write(tail)
	sig, err := identity.Sign(w.owner.Key, w.h.Sum(nil))
	if err != nil {
		return err
	}
	t := make([]byte, 0, trailerLen)
	t = append(append(append(t, magic...), tail...), sig...)
	if _, err := w.enc.Write(t); err != nil {
		return err
	}
	return w.enc.Close()
}

// Sealed is what the trailer of a decrypted object said.
type Sealed struct {
	Owner identity.Fingerprint
	T1    time.Time
	Size  uint64
}

type reader struct {
	dec    io.Reader
	back   []byte // back[lo:hi] is decrypted but not yet returned
	lo, hi int
	h      hash.Hash
	n      uint64
	owner  *ecdsa.PublicKey
	ownerF identity.Fingerprint
	done   bool
	err    error
	Info   Sealed
}

// readChunk is how much plaintext is decrypted ahead.
const readChunk = 64 << 10

// Decrypt returns a reader of the plaintext of src. The reader returns
// io.EOF only after the owner's signature verified; any failure (wrong key,
// truncation, a forged or foreign signature) is returned instead, and what
// was read so far must then be discarded.
func Decrypt(src io.Reader, key DataKey, owner *identity.Member) (*Reader, error) {
	p, err := primitive(key)
	if err != nil {
		return nil, err
	}
	dec, err := p.NewDecryptingReader(src, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongKey, err)
	}
	pub, ok := owner.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("owner key is not ECDSA")
	}
	return &Reader{r: &reader{dec: dec, back: make([]byte, readChunk+trailerLen), h: newM1(), owner: pub, ownerF: owner.Fingerprint}}, nil
}

// Reader is a verifying plaintext reader.
type Reader struct{ r *reader }

// Info returns the trailer's content once Read returned io.EOF.
func (r *Reader) Info() Sealed { return r.r.Info }

func (r *Reader) Read(p []byte) (int, error) { return r.r.read(p) }

func (r *reader) read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		// what precedes the held-back trailer can be returned
		if r.hi-r.lo > trailerLen {
			n := copy(p, r.back[r.lo:r.hi-trailerLen])
			r.h.Write(r.back[r.lo : r.lo+n])
			r.n += uint64(n)
			r.lo += n
			return n, nil
		}
		if r.done {
			r.err = r.finish(r.back[r.lo:r.hi])
			return 0, r.err
		}
		r.hi = copy(r.back, r.back[r.lo:r.hi])
		r.lo = 0
		n, err := r.dec.Read(r.back[r.hi:])
		r.hi += n
		switch {
		case err == io.EOF:
			r.done = true
		case errors.Is(err, io.ErrUnexpectedEOF):
			r.err = ErrTruncated
			return 0, r.err
		case err != nil:
			r.err = fmt.Errorf("%w: %v", ErrWrongKey, err)
			return 0, r.err
		}
	}
}

func (r *reader) finish(t []byte) error {
	if len(t) != trailerLen || string(t[:len(magic)]) != magic {
		return ErrTruncated
	}
	t = t[len(magic):]
	var fp identity.Fingerprint
	copy(fp[:], t[:32])
	t1 := int64(binary.BigEndian.Uint64(t[32:40]))
	size := binary.BigEndian.Uint64(t[40:48])
	sig := t[48:]
	if fp != r.ownerF {
		return ErrWrongOwner
	}
	if size != r.n {
		return ErrTruncated
	}
	r.h.Write(t[:48])
	if err := identity.Verify(r.owner, r.h.Sum(nil), sig); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	r.Info = Sealed{Owner: fp, T1: time.Unix(0, t1).UTC(), Size: size}
	return io.EOF
}
