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
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hkdf"
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

// headerLen is the stream header: its length byte, the HKDF salt and the
// segments' nonce prefix.
const headerLen = 1 + KeySize + noncePrefixLen

const (
	noncePrefixLen = 7
	tagLen         = 16
	// firstSegment is the most plaintext the first ciphertext segment
	// holds: a stream whose data and trailer fit in it is one segment.
	firstSegment = segmentSize - tagLen - headerLen
)

type writer struct {
	dst   io.Writer
	key   DataKey
	small []byte         // the plaintext so far, while it fits in one segment
	enc   io.WriteCloser // Tink's writer, once it does not
	h     hash.Hash
	n     uint64
	owner *identity.Identity
	t1    time.Time
}

// Encrypt returns a writer that signs and encrypts what is written to it
// into dst; Close writes the signed trailer and flushes the last segment.
//
// An object whose plaintext fits in the first segment (data up to about
// 1 MiB) is kept and encrypted by Close as that one segment, in Tink's
// format, which Tink's reader decrypts; this spares a small object Tink's
// writer and its two 1 MiB segment buffers. A larger one streams through
// Tink's writer in constant memory.
func Encrypt(dst io.Writer, key DataKey, owner *identity.Identity, t1 time.Time) (io.WriteCloser, error) {
	if _, err := primitive(key); err != nil {
		return nil, err
	}
	return &writer{dst: dst, key: key, h: newM1(), owner: owner, t1: t1}, nil
}

func (w *writer) Write(b []byte) (int, error) {
	w.h.Write(b)
	w.n += uint64(len(b))
	return w.write(b)
}

// write passes plaintext on: into the one-segment buffer while it fits,
// else to Tink's writer.
func (w *writer) write(b []byte) (int, error) {
	if w.enc == nil && len(w.small)+len(b) <= firstSegment {
		w.small = append(w.small, b...)
		return len(b), nil
	}
	if w.enc == nil {
		p, err := primitive(w.key)
		if err != nil {
			return 0, err
		}
		if w.enc, err = p.NewEncryptingWriter(w.dst, aad); err != nil {
			return 0, err
		}
		if _, err := w.enc.Write(w.small); err != nil {
			return 0, err
		}
		w.small = nil
	}
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
	if _, err := w.write(t); err != nil {
		return err
	}
	if w.enc != nil {
		return w.enc.Close()
	}
	seg, err := oneSegment(w.key, w.small)
	if err != nil {
		return err
	}
	_, err = w.dst.Write(seg)
	return err
}

// oneSegment encrypts plaintext as a whole AES256_GCM_HKDF_1MB stream of
// one segment, as Tink's writer would: the header (its length, a random
// salt, a random nonce prefix), then the plaintext sealed with AES-256-GCM
// under HKDF-SHA256(key, salt, aad) with the nonce prefix || segment 0 ||
// last-segment flag 1.
func oneSegment(key DataKey, plaintext []byte) ([]byte, error) {
	out := make([]byte, headerLen, headerLen+len(plaintext)+tagLen)
	out[0] = headerLen
	if _, err := rand.Read(out[1:headerLen]); err != nil {
		return nil, err
	}
	salt, prefix := out[1:1+KeySize], out[1+KeySize:headerLen]
	sub, err := hkdf.Key(sha256.New, key[:], salt, string(aad), KeySize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	copy(nonce, prefix)
	nonce[len(nonce)-1] = 1 // segment 0, the last
	return gcm.Seal(out, nonce, plaintext, nil), nil
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
