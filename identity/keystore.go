package identity

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealnet/sealnet/durable"
)

// Identity is a member's own key and certificate.
type Identity struct {
	Key     *ecdsa.PrivateKey
	Member  *Member
	CertDER []byte
}

// SaveKey stores a key alone (after a CSR, before the certificate).
func SaveKey(dir, name string, key *ecdsa.PrivateKey) error {
	if !ValidMemberID(name) {
		return fmt.Errorf("identity name %q invalid", name)
	}
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kp, err := EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, name+".key"), kp, 0o600)
}

// LoadKey reads a key stored by SaveKey.
func LoadKey(dir, name string) (*ecdsa.PrivateKey, error) {
	kp, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	return DecodeKeyPEM(kp)
}

// SaveIdentity stores a key and its certificate.
func SaveIdentity(dir, name string, key *ecdsa.PrivateKey, certDER []byte) error {
	if err := SaveKey(dir, name, key); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, name+".pem"), EncodeCertPEM(certDER), 0o644)
}

// LoadIdentity reads a stored identity and checks key and certificate match.
func LoadIdentity(dir, name string) (*Identity, error) {
	key, err := LoadKey(dir, name)
	if err != nil {
		return nil, err
	}
	cp, err := os.ReadFile(filepath.Join(dir, name+".pem"))
	if err != nil {
		return nil, err
	}
	cert, err := DecodeCertPEM(cp)
	if err != nil {
		return nil, fmt.Errorf("%s.pem: %w", name, err)
	}
	m, err := ParseMember(cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("%s.pem: %w", name, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s: %w", name, ErrKeyMismatch)
	}
	return &Identity{Key: key, Member: m, CertDER: cert.Raw}, nil
}

// SaveRoot stores an org's root certificate at path.
func SaveRoot(path string, root *x509.Certificate) error {
	if !root.IsCA {
		return fmt.Errorf("%s is not a CA certificate", root.Subject)
	}
	return durable.WriteFile(path, EncodeCertPEM(root.Raw), 0o644)
}

// LoadRoot reads the org root certificate stored by SaveRoot.
func LoadRoot(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := DecodeCertPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !c.IsCA {
		return nil, fmt.Errorf("%s: not a CA certificate", path)
	}
	return c, nil
}
