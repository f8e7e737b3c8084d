package source

// This file holds this OPC UA client's own application certificate and
// key (pki_dir/own), made once and kept.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sealnet/sealnet/durable"
)

var ownMu sync.Mutex // serializes making the own certificate among the sources of a process

// Own returns this client's application certificate and key from
// own/certs and own/private, making a self-signed one on first use: a
// server that trusts it keeps trusting it across restarts.
func (t TrustList) Own() ([]byte, *rsa.PrivateKey, error) {
	ownMu.Lock()
	defer ownMu.Unlock()
	cp, kp := filepath.Join(t.Dir, pkiOwnCerts, ownCertName), filepath.Join(t.Dir, pkiOwnPrivate, ownKeyName)
	der, cerr := os.ReadFile(cp)
	keyPEM, kerr := os.ReadFile(kp)
	if cerr == nil && kerr == nil {
		key, err := parseRSAKey(keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", kp, err)
		}
		return der, key, nil
	}
	if !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("own certificate: %s and %s must both exist or neither", cp, kp)
	}
	if err := t.Init(); err != nil {
		return nil, nil, err
	}
	der, key, err := selfSigned(time.Now())
	if err != nil {
		return nil, nil, err
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := durable.WriteFile(kp, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := durable.WriteFile(cp, der, 0o644); err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

// selfSigned makes a client application certificate for OPC UA security.
func selfSigned(now time.Time) ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	u, _ := url.Parse(appURI)
	host, _ := os.Hostname()
	names := []string{"localhost"}
	if host != "" && host != "localhost" {
		names = append(names, host)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sealnet DCMB", Organization: []string{"sealnet"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ownCertExpires),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment |
			x509.KeyUsageContentCommitment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{u},
		DNSNames:              names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

// parseRSAKey reads an RSA private key in PEM (PKCS #1 or PKCS #8) or DER.
func parseRSAKey(raw []byte) (*rsa.PrivateKey, error) {
	if b, _ := pem.Decode(raw); b != nil {
		raw = b.Bytes
	}
	if k, err := x509.ParsePKCS1PrivateKey(raw); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(raw)
	if err != nil {
		return nil, errors.New("not an RSA private key in PEM or DER (PKCS #1 or #8)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key: OPC UA security policies need RSA", k)
	}
	return rk, nil
}

// parseCert reads one certificate in PEM or DER.
func parseCert(raw []byte) ([]byte, error) {
	if b, _ := pem.Decode(raw); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM %s, want a CERTIFICATE", b.Type)
		}
		raw = b.Bytes
	}
	if _, err := x509.ParseCertificate(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// loadCertKey reads a certificate and its RSA key from files.
func loadCertKey(certFile, keyFile string) ([]byte, *rsa.PrivateKey, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	der, err := parseCert(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	raw, err = os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := parseRSAKey(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	c, _ := x509.ParseCertificate(der)
	if pub, ok := c.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("%s is not the key of %s", keyFile, certFile)
	}
	return der, key, nil
}
