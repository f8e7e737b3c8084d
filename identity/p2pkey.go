package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/sealnet/sealnet/durable"
)

// A node's libp2p identity is an Ed25519 key of its own, the key type
// every libp2p implementation must support. The node certificate's P-256
// key stays what the node signs and receives with; the registry binds
// the Ed25519 key to the certificate by a record the node submits, whose
// signature by the Ed25519 key over the certificate's fingerprint proves
// that the holder of the libp2p key agreed to the binding (the
// transaction's own signature proves the certificate's holder did).

// P2PKeySize and P2PSignatureSize are the lengths of an Ed25519 public
// key and signature.
const (
	P2PKeySize       = ed25519.PublicKeySize
	P2PSignatureSize = ed25519.SignatureSize
)

// p2pBindingDomain separates binding signatures from anything else the
// key could sign (libp2p's own handshakes sign other prefixes).
const p2pBindingDomain = "sealnet/p2p-key/v1\x00"

// ErrBadP2PBinding reports a libp2p key binding that does not verify.
var ErrBadP2PBinding = errors.New("libp2p key binding does not verify")

// P2PBindingMessage is what a libp2p key signs to bind itself to the
// certificate with fingerprint fp.
func P2PBindingMessage(fp Fingerprint) []byte {
	return append([]byte(p2pBindingDomain), fp[:]...)
}

// SignP2PBinding binds the libp2p key key to the certificate fp.
func SignP2PBinding(key ed25519.PrivateKey, fp Fingerprint) []byte {
	return ed25519.Sign(key, P2PBindingMessage(fp))
}

// VerifyP2PBinding checks that sig binds the Ed25519 public key pub to
// the certificate fp.
func VerifyP2PBinding(pub []byte, fp Fingerprint, sig []byte) error {
	if len(pub) != P2PKeySize {
		return fmt.Errorf("%w: key is %d bytes, want %d", ErrBadP2PBinding, len(pub), P2PKeySize)
	}
	if len(sig) != P2PSignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadP2PBinding, len(sig), P2PSignatureSize)
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), P2PBindingMessage(fp), sig) {
		return ErrBadP2PBinding
	}
	return nil
}

// NewP2PKey makes a node's libp2p key.
func NewP2PKey() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

// SaveP2PKey writes a libp2p key as PKCS#8 PEM (0600).
func SaveP2PKey(path string, key ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return durable.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// LoadP2PKey reads a key written by SaveP2PKey.
func LoadP2PKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PRIVATE KEY block in PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: key is %T, want Ed25519", path, k)
	}
	return ek, nil
}
