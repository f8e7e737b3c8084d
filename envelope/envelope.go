// Package envelope is the signed transaction of sealnet: a canonical CBOR
// payload {channel, contract, method, args, creator, nonce, timestamp} and an
// ECDSA P-256 signature over SHA-256 of a domain tag and the payload bytes.
//
// The transaction ID is SHA-256 of the whole envelope, which is also
// CometBFT's transaction hash, so one ID finds a transaction everywhere.
// Signatures are low-S normalised (see identity.Sign), so a third party
// cannot re-sign a transaction into another ID; the nonce guards the rest.
package envelope

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// DefaultMaxBytes is the default limit on one envelope's size.
const DefaultMaxBytes = 64 << 10

// signDomain separates transaction signatures from any other signature a
// member key makes (key-transfer messages, batches, ...).
const signDomain = "sealnet/tx/v1\x00"

// Payload is what the creator signs.
type Payload struct {
	Channel   string `cbor:"1,keyasint"`
	Contract  string `cbor:"2,keyasint"`
	Method    string `cbor:"3,keyasint"`
	Args      []byte `cbor:"4,keyasint"` // canonical CBOR of the method's argument struct
	Creator   []byte `cbor:"5,keyasint"` // SHA-256 fingerprint of the creator's certificate
	Nonce     uint64 `cbor:"6,keyasint"`
	Timestamp int64  `cbor:"7,keyasint"` // Unix nanoseconds, creator's clock
}

// Envelope is the signed transaction as it travels and is stored on chain.
type Envelope struct {
	Payload   []byte `cbor:"1,keyasint"`
	Signature []byte `cbor:"2,keyasint"` // 64 bytes r||s, low S
}

// ID is a transaction ID: SHA-256 of the envelope bytes.
type ID [32]byte

// IDOf returns the ID of raw envelope bytes.
func IDOf(raw []byte) ID { return sha256.Sum256(raw) }

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as lowercase hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses lowercase or uppercase hex.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses a 64-digit hex transaction ID.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("transaction id %q: want 64 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// Tx is a decoded envelope with its payload.
type Tx struct {
	ID        ID
	Raw       []byte
	Body      []byte // the payload's bytes, as signed
	Payload   Payload
	Signature []byte
	Creator   identity.Fingerprint
}

// Digest is the SHA-256 the creator signs.
func Digest(payload []byte) []byte {
	h := sha256.New()
	h.Write([]byte(signDomain))
	h.Write(payload)
	return h.Sum(nil)
}

// Time returns the payload timestamp.
func (p *Payload) Time() time.Time { return time.Unix(0, p.Timestamp).UTC() }

// Sign encodes p, signs it with key and returns the envelope bytes.
func Sign(p Payload, key *ecdsa.PrivateKey) ([]byte, error) {
	body, err := canon.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	sig, err := identity.Sign(key, Digest(body))
	if err != nil {
		return nil, fmt.Errorf("sign payload: %w", err)
	}
	return canon.Marshal(Envelope{Payload: body, Signature: sig})
}

// SignCall builds a call of contract.method by id with a random nonce and
// the given time, and signs it.
func SignCall(id *identity.Identity, channel, contractName, method string, args any, now time.Time) ([]byte, error) {
	a, err := canon.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode arguments: %w", err)
	}
	var n [8]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	fp := id.Member.Fingerprint
	return Sign(Payload{Channel: channel, Contract: contractName, Method: method, Args: a,
		Creator: fp[:], Nonce: binary.BigEndian.Uint64(n[:]), Timestamp: now.UnixNano()}, id.Key)
}

// Decode parses raw envelope bytes without checking the signature. Every
// error carries a txerr code (Oversized or Malformed).
func Decode(raw []byte, maxBytes int) (*Tx, error) {
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, txerr.New(txerr.Oversized, "transaction is %d bytes, limit %d", len(raw), maxBytes)
	}
	var env Envelope
	if err := canon.Unmarshal(raw, &env); err != nil {
		return nil, txerr.New(txerr.Malformed, "envelope: %v", describe(err))
	}
	if len(env.Signature) != identity.SignatureSize {
		return nil, txerr.New(txerr.Malformed, "signature is %d bytes, want %d", len(env.Signature), identity.SignatureSize)
	}
	t := &Tx{ID: IDOf(raw), Raw: raw, Body: env.Payload, Signature: env.Signature}
	if err := canon.Unmarshal(env.Payload, &t.Payload); err != nil {
		return nil, txerr.New(txerr.Malformed, "payload: %v", describe(err))
	}
	p := &t.Payload
	if len(p.Creator) != len(t.Creator) {
		return nil, txerr.New(txerr.Malformed, "creator fingerprint is %d bytes, want 32", len(p.Creator))
	}
	copy(t.Creator[:], p.Creator)
	if p.Channel == "" || p.Contract == "" || p.Method == "" {
		return nil, txerr.New(txerr.Malformed, "payload lacks channel, contract or method")
	}
	return t, nil
}

// VerifySignature checks the envelope's signature with the creator's key.
func (t *Tx) VerifySignature(pub *ecdsa.PublicKey) error {
	if err := identity.Verify(pub, Digest(t.Body), t.Signature); err != nil {
		return txerr.New(txerr.BadSignature, "%v", err)
	}
	return nil
}

// describe keeps decoder errors short and free of the offending bytes.
func describe(err error) string {
	if errors.Is(err, canon.ErrNonCanonical) {
		return "not canonical CBOR"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
