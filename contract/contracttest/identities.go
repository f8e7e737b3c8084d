package contracttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
)

// Identities are derived from their names, and every signature is
// deterministic (RFC 6979), so a scenario produces the same certificates,
// transaction IDs and key orders on every run and every Go version.

// deriveKey returns the P-256 key named name.
func deriveKey(name string) *ecdsa.PrivateKey {
	seed := sha256.Sum256([]byte("sealnet/contracttest/key\x00" + name))
	for {
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:]); err == nil {
			return k
		}
		seed = sha256.Sum256(seed[:]) // not below the group order: rehash
	}
}

// deriveP2PKey returns the Ed25519 libp2p key named name.
func deriveP2PKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("sealnet/contracttest/p2p-key\x00" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// serialOf is a certificate serial number derived from a name.
func serialOf(name string) *big.Int {
	h := sha256.Sum256([]byte("sealnet/contracttest/serial\x00" + name))
	return new(big.Int).SetBytes(h[:16])
}

// detSigner signs with RFC 6979 nonces, whatever randomness it is offered.
type detSigner struct{ k *ecdsa.PrivateKey }

func (s detSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

func (s detSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, digest, opts)
}

// authority is a certificate authority of the scenario.
type authority struct {
	name string // the scenario's name for it
	org  string // the org its root names
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// person is an issued member certificate and its key; member may be nil if
// the certificate is deliberately not a valid member.
type person struct {
	name   string // "<ca>/<id>"
	key    *ecdsa.PrivateKey
	der    []byte
	fp     identity.Fingerprint
	member *identity.Member
}

func newAuthority(name, org string, from time.Time, validity time.Duration, isCA bool) (*authority, error) {
	key := deriveKey("ca/" + name)
	tmpl := &x509.Certificate{
		SerialNumber: serialOf("ca/" + name), Subject: pkix.Name{CommonName: org + " CA", Organization: []string{org}},
		NotBefore: from, NotAfter: from.Add(validity), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, detSigner{key})
	if err != nil {
		return nil, fmt.Errorf("ca %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authority{name: name, org: org, key: key, cert: cert}, nil
}

// issue makes a member certificate like identity.CA.Issue does, except that
// role and org are taken as given, valid or not.
func (a *authority) issue(name, id, org, role string, from time.Time, validity time.Duration) (*person, error) {
	key := deriveKey("member/" + name)
	subj := pkix.Name{CommonName: id, Organization: []string{org}, OrganizationalUnit: []string{role}}
	tmpl := &x509.Certificate{
		SerialNumber: serialOf("member/" + name), Subject: subj,
		NotBefore: from, NotAfter: from.Add(validity), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, a.cert, &key.PublicKey, detSigner{a.key})
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", name, err)
	}
	p := &person{name: name, key: key, der: der, fp: identity.FingerprintOf(der)}
	p.member, _ = identity.ParseMember(der) // nil for a deliberately invalid certificate
	return p, nil
}

var (
	curveN     = elliptic.P256().Params().N
	halfCurveN = new(big.Int).Rsh(curveN, 1)
)

// sign builds the envelope of p, signed by who with a deterministic,
// low-S signature, as envelope.Sign does with a random one.
func sign(who *person, p envelope.Payload) ([]byte, error) {
	body, err := canon.Marshal(p)
	if err != nil {
		return nil, err
	}
	sig, err := detSign(who.key, envelope.Digest(body))
	if err != nil {
		return nil, err
	}
	return canon.Marshal(envelope.Envelope{Payload: body, Signature: sig})
}

// detSign signs a digest as identity.Sign does (r||s, low S), with an
// RFC 6979 nonce instead of a random one.
func detSign(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	der, err := key.Sign(nil, digest, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		return nil, err
	}
	if rs.S.Cmp(halfCurveN) > 0 {
		rs.S.Sub(curveN, rs.S)
	}
	sig := make([]byte, identity.SignatureSize)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	return sig, nil
}
