package share

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/lpframe"
)

// Resolve returns the member behind a fingerprint on a channel, as the
// channel's registry says, and whether it is revoked. It returns an error
// for a fingerprint not enrolled there.
type Resolve func(channel string, fp identity.Fingerprint) (m *identity.Member, revoked bool, err error)

// NewRequest builds A's request for the key of the object cid (index entry
// tx) held by owner, signed by a and sealed to owner. It returns the sealed
// bytes and the request's hash, which the answer must carry.
func NewRequest(a *identity.Identity, owner *identity.Member, channel, cid string, tx [32]byte, now time.Time) (sealed, hash []byte, err error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	r := Request{Channel: channel, Requester: a.Member.Fingerprint[:], Owner: owner.Fingerprint[:],
		Time: now.UnixNano(), HashData: cid, TXNumber: tx[:], Nonce: nonce}
	signed, err := sign(a, requestDomain, r)
	if err != nil {
		return nil, nil, err
	}
	sealed, err = SealTo(owner.Cert.PublicKey.(*ecdsa.PublicKey), signed)
	if err != nil {
		return nil, nil, err
	}
	h := sha256.Sum256(signed)
	return sealed, h[:], nil
}

// Verifier checks requests on the owner's side.
type Verifier struct {
	Self    *identity.Identity
	Tau     time.Duration
	Resolve Resolve

	mu   sync.Mutex
	seen map[string]time.Time // nonce -> when it may be forgotten
}

// Incoming is a request that passed every check.
type Incoming struct {
	Request   Request
	Requester *identity.Member
	Hash      []byte // SHA-256 of the signed request
	Signature []byte
}

// OpenRequest decrypts and checks a sealed request: addressed to this
// member, sender enrolled on the channel and not revoked, signature valid,
// timestamp within tau, nonce not seen within 2 tau.
func (v *Verifier) OpenRequest(sealed []byte, now time.Time) (*Incoming, error) {
	signed, err := OpenWith(v.Self.Key, sealed)
	if err != nil {
		return nil, err
	}
	var r Request
	s, err := decodeSigned(signed, &r)
	if err != nil {
		return nil, err
	}
	if len(r.Requester) != 32 || len(r.Owner) != 32 || len(r.TXNumber) != 32 || len(r.Nonce) != 16 || r.HashData == "" {
		return nil, fmt.Errorf("%w: field sizes", ErrMalformed)
	}
	if !bytes.Equal(r.Owner, v.Self.Member.Fingerprint[:]) {
		return nil, ErrMisaddressed
	}
	var afp identity.Fingerprint
	copy(afp[:], r.Requester)
	a, revoked, err := v.Resolve(r.Channel, afp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	if err := verify(s, requestDomain, a.Cert.PublicKey.(*ecdsa.PublicKey)); err != nil {
		return nil, err
	}
	if revoked {
		return nil, ErrRevoked
	}
	if d := now.Sub(time.Unix(0, r.Time)); d > v.Tau || d < -v.Tau {
		return nil, fmt.Errorf("%w: %s off, window %s", ErrExpired, d.Round(time.Millisecond), v.Tau)
	}
	if err := v.remember(string(r.Nonce), now); err != nil {
		return nil, err
	}
	h := sha256.Sum256(signed)
	return &Incoming{Request: r, Requester: a, Hash: h[:], Signature: s.Sig}, nil
}

func (v *Verifier) remember(nonce string, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	if until, ok := v.seen[nonce]; ok && now.Before(until) {
		return ErrReplayed
	}
	if len(v.seen) > 4096 {
		for n, until := range v.seen {
			if now.After(until) {
				delete(v.seen, n)
			}
		}
	}
	v.seen[nonce] = now.Add(2 * v.Tau)
	return nil
}

// Answer signs and seals the owner's answer to in: a grant when key is
// set, else a denial with code and message. It returns the sealed bytes,
// the hash of the signed answer and the signed answer itself.
func (v *Verifier) Answer(in *Incoming, key []byte, code, msg string, now time.Time) (sealed, hash, signed []byte, err error) {
	a := Answer{Request: in.Hash, Owner: v.Self.Member.Fingerprint[:], Requester: in.Request.Requester,
		Time: now.UnixNano(), Key: key, Denied: code, Message: msg}
	signed, err = sign(v.Self, answerDomain, a)
	if err != nil {
		return nil, nil, nil, err
	}
	sealed, err = SealTo(in.Requester.Cert.PublicKey.(*ecdsa.PublicKey), signed)
	if err != nil {
		return nil, nil, nil, err
	}
	h := sha256.Sum256(signed)
	return sealed, h[:], signed, nil
}

// OpenAnswer decrypts and checks the owner's answer on the requester's
// side: signed by owner, answering this request, addressed to a, fresh.
func OpenAnswer(a *identity.Identity, owner *identity.Member, reqHash, sealed []byte, now time.Time, tau time.Duration) (*Answer, error) {
	signed, err := OpenWith(a.Key, sealed)
	if err != nil {
		return nil, err
	}
	var ans Answer
	s, err := decodeSigned(signed, &ans)
	if err != nil {
		return nil, err
	}
	if err := verify(s, answerDomain, owner.Cert.PublicKey.(*ecdsa.PublicKey)); err != nil {
		return nil, err
	}
	if !bytes.Equal(ans.Request, reqHash) || !bytes.Equal(ans.Owner, owner.Fingerprint[:]) {
		return nil, fmt.Errorf("%w: answer to another request", ErrMisaddressed)
	}
	if !bytes.Equal(ans.Requester, a.Member.Fingerprint[:]) {
		return nil, ErrMisaddressed
	}
	if d := now.Sub(time.Unix(0, ans.Time)); d > tau || d < -tau {
		return nil, fmt.Errorf("%w: answer %s off", ErrExpired, d.Round(time.Millisecond))
	}
	if ans.Denied == "" && len(ans.Key) != 32 {
		return nil, fmt.Errorf("%w: grant without a 32-byte key", ErrMalformed)
	}
	return &ans, nil
}

// WriteFrame writes a length-prefixed message (internal/lpframe's
// u32be(len) || message).
func WriteFrame(w io.Writer, b []byte) error { return lpframe.Write(w, b, MaxMessage) }

// ReadFrame reads a length-prefixed message of 1 to MaxMessage bytes.
func ReadFrame(r io.Reader) ([]byte, error) { return lpframe.Read(r, MaxMessage) }
