package source_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/sealnet/sealnet/dcmb/source"
)

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func mint(t *testing.T, parent *issuer, cn string, ca bool, hosts []string, from, to time.Time) *issuer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: to,
		IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &issuer{cert: c, key: key}
}

func put(t *testing.T, dir, sub, name string, der []byte, pemType string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, sub), 0o700)
	raw := der
	if pemType != "" {
		raw = pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
	}
	if err := os.WriteFile(filepath.Join(dir, sub, name), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The trust list decides as OPC UA Part 4 asks: a pinned certificate by
// its bytes, a CA-issued one by its chain, validity, revocation and host;
// intermediates alone trust nothing; whatever is refused is saved once.
func TestTrustList(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	root := mint(t, nil, "plant root CA", true, nil, now.Add(-day), now.Add(365*day))
	inter := mint(t, root, "plant line CA", true, nil, now.Add(-day), now.Add(365*day))
	press := mint(t, inter, "press-7", false, []string{"press-7.plant.example", "10.0.7.1"}, now.Add(-day), now.Add(day))
	expired := mint(t, inter, "press-8", false, []string{"press-8.plant.example"}, now.Add(-3*day), now.Add(-day))
	pinned := mint(t, nil, "press-9", false, []string{"press-9"}, now.Add(-day), now.Add(day))

	dir := t.TempDir()
	tl := TrustList{Dir: dir}
	untrusted := func(der []byte, host, why string) {
		t.Helper()
		err := tl.Check(der, host, now)
		var ue *UntrustedError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), why) {
			t.Fatalf("%s: %v, want untrusted because %s", host, err, why)
		}
	}
	untrusted(press.cert.Raw, "press-7.plant.example", "is not in the trust list")
	// an intermediate alone is not a trust anchor
	put(t, dir, "issuers/certs", "line.der", inter.cert.Raw, "")
	untrusted(press.cert.Raw, "press-7.plant.example", "is not in the trust list")
	rejected, _ := tl.Rejected()
	if len(rejected) != 1 || !strings.Contains(rejected[0].Path, "press-7["+Thumbprint(press.cert.Raw)+"].der") {
		t.Fatalf("rejected (saved once): %+v", rejected)
	}

	put(t, dir, "trusted/certs", "root.pem", root.cert.Raw, "CERTIFICATE")
	for _, host := range []string{"press-7.plant.example", "10.0.7.1"} {
		if err := tl.Check(press.cert.Raw, host, now); err != nil {
			t.Fatalf("%s through the CA: %v", host, err)
		}
	}
	untrusted(press.cert.Raw, "press-9.plant.example", "does not name the endpoint's host press-9.plant.example")
	untrusted(expired.cert.Raw, "press-8.plant.example", "expired on")

	// the root revokes the line CA
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(day),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: inter.cert.SerialNumber, RevocationTime: now.Add(-time.Minute)}}}, root.cert, root.key)
	if err != nil {
		t.Fatal(err)
	}
	put(t, dir, "trusted/crl", "root.crl", crl, "X509 CRL")
	untrusted(press.cert.Raw, "press-7.plant.example", `is revoked (certificate "CN=plant line CA"`)
	// an out-of-date CRL cannot vouch
	stale, _ := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now.Add(-2 * day), NextUpdate: now.Add(-day)}, root.cert, root.key)
	put(t, dir, "trusted/crl", "root.crl", stale, "X509 CRL")
	untrusted(press.cert.Raw, "press-7.plant.example", "out of date")
	os.Remove(filepath.Join(dir, "trusted/crl", "root.crl"))

	// a self-signed certificate is trusted by its bytes, within its validity
	put(t, dir, "trusted/certs", "press-9.der", pinned.cert.Raw, "")
	if err := tl.Check(pinned.cert.Raw, "any-name", now); err != nil {
		t.Fatalf("pinned: %v", err)
	}
	if err := tl.Check(pinned.cert.Raw, "press-9", now.Add(2*day)); err == nil || !strings.Contains(err.Error(), "needs a new certificate") {
		t.Fatalf("a pinned certificate past its validity: %v", err)
	}

	// trusting by thumbprint, SHA-1 or SHA-256, from rejected
	if _, err := tl.Trust("abc"); err == nil {
		t.Fatal("a 3-digit thumbprint was accepted")
	}
	got, err := tl.Trust(rejected[0].SHA256[:10])
	if err != nil || got.Thumbprint != Thumbprint(press.cert.Raw) {
		t.Fatalf("trust: %+v %v", got, err)
	}
	if err := tl.Check(press.cert.Raw, "elsewhere", now); err != nil {
		t.Fatalf("pinned after trusting: %v", err)
	}
	if r, _ := tl.Rejected(); len(r) != 1 || r[0].Subject != "CN=press-8" {
		t.Fatalf("rejected after trusting press-7: %+v", r)
	}
	untrusted([]byte("not a certificate"), "x", "is not an X.509 certificate")
}

// The client's own certificate is made once and kept.
func TestTrustListOwn(t *testing.T) {
	tl := TrustList{Dir: t.TempDir()}
	der, key, err := tl.Own()
	if err != nil {
		t.Fatal(err)
	}
	der2, key2, err := tl.Own()
	if err != nil || string(der) != string(der2) || !key.Equal(key2) {
		t.Fatalf("the own certificate changed: %v", err)
	}
	c, _ := x509.ParseCertificate(der)
	if len(c.URIs) != 1 || c.URIs[0].String() != "urn:sealnet:dcmb" {
		t.Fatalf("application URI: %v", c.URIs)
	}
	fi, _ := os.Stat(filepath.Join(tl.Dir, "own", "private", "sealnet-dcmb.pem"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("the own key is %v", fi.Mode())
	}
}
