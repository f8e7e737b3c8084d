package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"math/big"
)

// SignatureSize is the length of a signature: r||s, 32 bytes each.
const SignatureSize = 64

var (
	curveN     = elliptic.P256().Params().N
	halfCurveN = new(big.Int).Rsh(curveN, 1)
)

// NewKey makes a P-256 private key.
func NewKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// Sign signs a SHA-256 digest, returning low-S r||s.
func Sign(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("digest is %d bytes, want 32", len(digest))
	}
	r, s, err := ecdsa.Sign(rand.Reader, key, digest)
	if err != nil {
		return nil, err
	}
	if s.Cmp(halfCurveN) > 0 {
		s.Sub(curveN, s)
	}
	sig := make([]byte, SignatureSize)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// Verify checks a low-S r||s signature over a SHA-256 digest.
func Verify(pub *ecdsa.PublicKey, digest, sig []byte) error {
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(sig), SignatureSize)
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(curveN) >= 0 {
		return fmt.Errorf("%w: r or s out of range", ErrBadSignature)
	}
	if s.Cmp(halfCurveN) > 0 {
		return fmt.Errorf("%w: high S (non-canonical)", ErrBadSignature)
	}
	if pub == nil || !ecdsa.Verify(pub, digest, r, s) {
		return fmt.Errorf("%w: does not verify", ErrBadSignature)
	}
	return nil
}
