package identity

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/sealnet/sealnet/durable"
	"time"
)

// ErrDuplicateMember reports a member ID the CA already issued.
var ErrDuplicateMember = errors.New("member ID already issued")

// IssuedRecord is one certificate a CA issued.
type IssuedRecord struct {
	ID          string    `json:"id"`
	Role        Role      `json:"role"`
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"fingerprint"`
	Issued      time.Time `json:"issued"`
}

// CA is an organization's certificate authority.
type CA struct {
	Org    string
	Cert   *x509.Certificate
	Key    *ecdsa.PrivateKey
	issued []IssuedRecord
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// NewCA makes a self-signed org root.
func NewCA(org string, notBefore time.Time, validity time.Duration) (*CA, error) {
	if org == "" || !ValidMemberID(org) {
		return nil, fmt.Errorf("org name %q: want 1-64 characters of a-z, 0-9, '.', '_' or '-'", org)
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: org + " CA", Organization: []string{org}},
		NotBefore: notBefore, NotAfter: notBefore.Add(validity), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Org: org, Cert: cert, Key: key}, nil
}

// Issue checks a CSR and issues a member certificate (DER).
func (ca *CA) Issue(csrDER []byte, role Role, notBefore time.Time, validity time.Duration) ([]byte, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr signature: %w", err)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, errors.New("csr: key is not ECDSA P-256")
	}
	id := csr.Subject.CommonName
	if !ValidMemberID(id) {
		return nil, fmt.Errorf("csr: member ID %q: want 1-64 characters of a-z, 0-9, '.', '_' or '-'", id)
	}
	if o := csr.Subject.Organization; len(o) > 0 && (len(o) != 1 || o[0] != ca.Org) {
		return nil, fmt.Errorf("csr names org %v, this CA is %s", o, ca.Org)
	}
	for _, r := range ca.issued {
		if r.ID == id {
			return nil, fmt.Errorf("%w: %s of %s (fingerprint %s)", ErrDuplicateMember, id, ca.Org, r.Fingerprint)
		}
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: id, Organization: []string{ca.Org}, OrganizationalUnit: []string{string(role)}},
		NotBefore: notBefore, NotAfter: notBefore.Add(validity), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	ca.issued = append(ca.issued, IssuedRecord{ID: id, Role: role, Serial: sn.Text(16),
		Fingerprint: FingerprintOf(der).String(), Issued: time.Now().UTC()})
	return der, nil
}

// Issued lists what the CA issued.
func (ca *CA) Issued() []IssuedRecord { return append([]IssuedRecord(nil), ca.issued...) }

// NewCSR makes a certificate signing request for key.
func NewCSR(key *ecdsa.PrivateKey, memberID, org string) ([]byte, error) {
	if !ValidMemberID(memberID) {
		return nil, fmt.Errorf("member ID %q: want 1-64 characters of a-z, 0-9, '.', '_' or '-'", memberID)
	}
	subj := pkix.Name{CommonName: memberID}
	if org != "" {
		subj.Organization = []string{org}
	}
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subj}, key)
}

// Save writes the CA to dir: ca.pem, ca.key (0600) and issued.json.
func (ca *CA) Save(dir string) error {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kp, err := EncodeKeyPEM(ca.Key)
	if err != nil {
		return err
	}
	issued, err := json.MarshalIndent(ca.issued, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"ca.pem", EncodeCertPEM(ca.Cert.Raw), 0o644}, {"ca.key", kp, 0o600}, {"issued.json", issued, 0o644}} {
		if err := durable.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// LoadCA reads a CA saved by Save.
func LoadCA(dir string) (*CA, error) {
	cp, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	cert, err := DecodeCertPEM(cp)
	if err != nil {
		return nil, fmt.Errorf("ca.pem: %w", err)
	}
	kp, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	key, err := DecodeKeyPEM(kp)
	if err != nil {
		return nil, fmt.Errorf("ca.key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("ca.key: %w", ErrKeyMismatch)
	}
	if len(cert.Subject.Organization) != 1 {
		return nil, errors.New("ca.pem: root names no single org")
	}
	ca := &CA{Org: cert.Subject.Organization[0], Cert: cert, Key: key}
	if b, err := os.ReadFile(filepath.Join(dir, "issued.json")); err == nil {
		if err := json.Unmarshal(b, &ca.issued); err != nil {
			return nil, fmt.Errorf("issued.json: %w", err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	return ca, nil
}
