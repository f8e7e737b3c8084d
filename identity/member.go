package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Role is what a member may do.
type Role string

// The roles.
const (
	RoleAdmin     Role = "admin"
	RoleClient    Role = "client"
	RoleNode      Role = "node"
	RoleCertifier Role = "certifier"
	RoleWorker    Role = "worker"
	// RoleAuditor reads a channel (blocks, transactions, queries, events,
	// audit bundles) through its org's node and writes nothing: no contract
	// method admits it.
	RoleAuditor Role = "auditor"
)

// ParseRole accepts one of the six roles.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleClient, RoleNode, RoleCertifier, RoleWorker, RoleAuditor:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want admin, client, node, certifier, worker or auditor)", s)
}

// Errors of certificate checks.
var (
	ErrCertExpired  = errors.New("certificate not valid at this time")
	ErrWrongIssuer  = errors.New("certificate not issued by the org's CA")
	ErrBadMember    = errors.New("certificate does not describe a member")
	ErrBadSignature = errors.New("bad signature")
	ErrKeyMismatch  = errors.New("private key does not match the certificate")
)

// Fingerprint is SHA-256 of a certificate's DER.
type Fingerprint [32]byte

// FingerprintOf hashes a certificate.
func FingerprintOf(certDER []byte) Fingerprint { return sha256.Sum256(certDER) }

func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// MarshalText encodes as lowercase hex.
func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText parses hex.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	p, err := ParseFingerprint(string(b))
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// ParseFingerprint parses 64 hex digits.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(f) {
		return f, fmt.Errorf("fingerprint %q: want 64 hex digits", s)
	}
	copy(f[:], b)
	return f, nil
}

// Member is what a certificate says about its holder.
type Member struct {
	ID          string
	Org         string
	Role        Role
	Cert        *x509.Certificate
	Fingerprint Fingerprint
}

var memberID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidMemberID reports whether id is 1-64 characters of [a-z0-9._-]
// starting with a letter or digit.
func ValidMemberID(id string) bool { return memberID.MatchString(id) }

// ParseMember reads a member certificate.
func ParseMember(certDER []byte) (*Member, error) {
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMember, err)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: key is not ECDSA P-256", ErrBadMember)
	}
	if !ValidMemberID(c.Subject.CommonName) {
		return nil, fmt.Errorf("%w: member ID %q invalid", ErrBadMember, c.Subject.CommonName)
	}
	if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] == "" {
		return nil, fmt.Errorf("%w: needs exactly one organization", ErrBadMember)
	}
	if len(c.Subject.OrganizationalUnit) != 1 {
		return nil, fmt.Errorf("%w: needs exactly one role", ErrBadMember)
	}
	role, err := ParseRole(c.Subject.OrganizationalUnit[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMember, err)
	}
	if c.IsCA {
		return nil, fmt.Errorf("%w: a CA certificate is not a member", ErrBadMember)
	}
	return &Member{ID: c.Subject.CommonName, Org: c.Subject.Organization[0], Role: role, Cert: c, Fingerprint: FingerprintOf(certDER)}, nil
}

// VerifyMember checks cert against its org's root at time at.
func VerifyMember(cert, orgRoot *x509.Certificate, at time.Time) error {
	if len(orgRoot.Subject.Organization) != 1 || len(cert.Subject.Organization) != 1 ||
		cert.Subject.Organization[0] != orgRoot.Subject.Organization[0] {
		return fmt.Errorf("%w: certificate org %v, root org %v", ErrWrongIssuer, cert.Subject.Organization, orgRoot.Subject.Organization)
	}
	if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
		return fmt.Errorf("%w: valid %s to %s", ErrCertExpired, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if at.Before(orgRoot.NotBefore) || at.After(orgRoot.NotAfter) {
		return fmt.Errorf("%w: the org root is not valid at %s", ErrCertExpired, at.UTC().Format(time.RFC3339))
	}
	if err := cert.CheckSignatureFrom(orgRoot); err != nil {
		return fmt.Errorf("%w: %v", ErrWrongIssuer, err)
	}
	return nil
}
