// Package share is paper 002's data-transfer phase (Algorithm 4) between
// companies: requester A asks the owner B for an object's data key over an
// authenticated libp2p stream; B checks who asks and answers with the key
// or a signed denial.
//
// Every message is canonical CBOR, signed by its sender (ECDSA P-256 over
// SHA-256 of a domain tag and the body) and sealed with HPKE (RFC 9180,
// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to the receiver's
// certified public key from the chain, so only the addressee can read it
// and only the sender can have written it. The request carries
// {ID_A, ID_B, T_AB, Hash_Data, TXnumber, nonce}; the answer binds the
// request by hash and carries {ID_B, ID_A, T_BA, data key} or a denial.
//
// The same P-256 key serves ECDSA signatures and HPKE key agreement: the
// chain certifies one key per member, and the domain-separated uses do not
// interact.
package share

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/hpkep256"
	"github.com/sealnet/sealnet/internal/lpframe"
)

// Protocol is the libp2p protocol ID of key requests.
const Protocol = "/sealnet/keyreq/1"

// MaxMessage bounds a sealed message on the wire.
const MaxMessage = 16 << 10

const (
	requestDomain = "sealnet/keyreq/v1\x00"
	answerDomain  = "sealnet/keyans/v1\x00"
	hpkeInfo      = "sealnet key transfer v1"
)

// Errors a request or answer is rejected with.
var (
	ErrMalformed     = lpframe.ErrMalformed // the one sentinel of every protocol
	ErrUndecryptable = errors.New("message not sealed to this node")
	ErrForged        = errors.New("signature does not verify")
	ErrExpired       = errors.New("timestamp outside the window")
	ErrReplayed      = errors.New("nonce already used")
	ErrMisaddressed  = errors.New("message addressed to another member")
	ErrUnknown       = errors.New("sender is not enrolled on the channel")
	ErrRevoked       = errors.New("sender's certificate is revoked")
)

// Request is A's key request.
type Request struct {
	Channel   string `cbor:"1,keyasint"`
	Requester []byte `cbor:"2,keyasint"` // ID_A: certificate fingerprint
	Owner     []byte `cbor:"3,keyasint"` // ID_B: fingerprint of the member answering for the data
	Time      int64  `cbor:"4,keyasint"` // T_AB, Unix ns
	HashData  string `cbor:"5,keyasint"` // CID of the ciphertext
	TXNumber  []byte `cbor:"6,keyasint"` // the index entry's transaction ID
	Nonce     []byte `cbor:"7,keyasint"` // 16 random bytes
}

// Answer is B's grant or denial.
type Answer struct {
	Request   []byte `cbor:"1,keyasint"` // SHA-256 of the signed request it answers
	Owner     []byte `cbor:"2,keyasint"` // ID_B
	Requester []byte `cbor:"3,keyasint"` // ID_A
	Time      int64  `cbor:"4,keyasint"` // T_BA, Unix ns
	Key       []byte `cbor:"5,keyasint,omitempty"`
	Denied    string `cbor:"6,keyasint,omitempty"` // a Denial code
	Message   string `cbor:"7,keyasint,omitempty"`
}

// Denial codes.
const (
	DenyPurged    = "purged"
	DenyNotMember = "not a member of the channel"
	DenyPolicy    = "refused by the owner's policy"
	DenyPending   = "waiting for the owner's approval"
	DenyUnknown   = "no such object"
	DenyInvalid   = "invalid request"
)

// Signed is a signed message body.
type Signed struct {
	Body []byte `cbor:"1,keyasint"`
	Sig  []byte `cbor:"2,keyasint"`
}

func digest(domain string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(body)
	return h.Sum(nil)
}

// sign encodes v, signs it and returns the Signed bytes.
func sign(id *identity.Identity, domain string, v any) ([]byte, error) {
	body, err := canon.Marshal(v)
	if err != nil {
		return nil, err
	}
	sig, err := identity.Sign(id.Key, digest(domain, body))
	if err != nil {
		return nil, err
	}
	return canon.Marshal(Signed{Body: body, Sig: sig})
}

// decodeSigned parses Signed bytes and its body into v, without checking
// the signature.
func decodeSigned(raw []byte, v any) (*Signed, error) {
	var s Signed
	if err := canon.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(s.Sig) != identity.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes", ErrMalformed, len(s.Sig))
	}
	if err := canon.Unmarshal(s.Body, v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &s, nil
}

func verify(s *Signed, domain string, pub *ecdsa.PublicKey) error {
	if err := identity.Verify(pub, digest(domain, s.Body), s.Sig); err != nil {
		return fmt.Errorf("%w: %v", ErrForged, err)
	}
	return nil
}

// SealTo encrypts msg to pub with HPKE.
func SealTo(pub *ecdsa.PublicKey, msg []byte) ([]byte, error) {
	return hpkep256.Seal(pub, []byte(hpkeInfo), msg)
}

// OpenWith decrypts an HPKE message sealed to key.
func OpenWith(key *ecdsa.PrivateKey, ct []byte) ([]byte, error) {
	if len(ct) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(ct), MaxMessage)
	}
	msg, err := hpkep256.Open(key, []byte(hpkeInfo), ct)
	if err != nil {
		return nil, ErrUndecryptable
	}
	return msg, nil
}
