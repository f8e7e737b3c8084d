package source

// This file holds the OPC UA trust list of server certificates: its
// layout, the check of a server certificate, rejected and trusted ones.

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sealnet/sealnet/durable"
)

// TrustList is an OPC UA certificate store in the layout of OPC UA Part 12
// that node-opcua, open62541 and the OPC Foundation's stacks share:
//
//	own/certs, own/private    this client's application certificate and key
//	trusted/certs             certificates trusted as they are (a server's own,
//	                          pinned) or as issuers of the servers' certificates
//	trusted/crl               revocation lists of the trusted issuers
//	issuers/certs, issuers/crl  CA certificates that may complete a chain to a
//	                          trusted one but are not trusted by themselves
//	rejected                  certificates refused, for the operator to inspect
//	                          and trust
//
// A server certificate is trusted if its exact bytes are in trusted/certs,
// or if it chains to a CA in trusted/certs (through issuers/certs), is
// within its validity, is not revoked by a CRL of its issuer, and names the
// endpoint's host. Anything else is refused and saved under rejected.
type TrustList struct {
	Dir string
}

// Subfolders of a TrustList.
const (
	pkiOwnCerts    = "own/certs"
	pkiOwnPrivate  = "own/private"
	pkiTrusted     = "trusted/certs"
	pkiTrustedCRL  = "trusted/crl"
	pkiIssuers     = "issuers/certs"
	pkiIssuersCRL  = "issuers/crl"
	pkiRejected    = "rejected"
	ownCertName    = "sealnet-dcmb.der"
	ownKeyName     = "sealnet-dcmb.pem"
	appURI         = "urn:sealnet:dcmb"
	ownCertExpires = 5 * 365 * 24 * time.Hour
)

// Init creates the folders.
func (t TrustList) Init() error {
	for _, d := range []string{pkiOwnCerts, pkiOwnPrivate, pkiTrusted, pkiTrustedCRL, pkiIssuers, pkiIssuersCRL, pkiRejected} {
		if err := os.MkdirAll(filepath.Join(t.Dir, d), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// CertInfo describes a certificate for an operator.
type CertInfo struct {
	Thumbprint string    // SHA-1 of the DER bytes, hex: what OPC UA tools show
	SHA256     string    // SHA-256 of the DER bytes, hex
	Subject    string    // distinguished name
	URI        string    // application URI (the first URI in the subject alternative names)
	Hosts      []string  // DNS names and IP addresses in the subject alternative names
	NotBefore  time.Time //
	NotAfter   time.Time //
	Path       string    // the file it is stored in
}

// Thumbprint is the SHA-1 thumbprint OPC UA uses to name a certificate, in
// lower-case hex.
func Thumbprint(der []byte) string {
	s := sha1.Sum(der)
	return hex.EncodeToString(s[:])
}

func certInfo(der []byte, path string) CertInfo {
	s := sha256.Sum256(der)
	ci := CertInfo{Thumbprint: Thumbprint(der), SHA256: hex.EncodeToString(s[:]), Path: path}
	if c, err := x509.ParseCertificate(der); err == nil {
		ci.Subject, ci.NotBefore, ci.NotAfter = c.Subject.String(), c.NotBefore, c.NotAfter
		if len(c.URIs) > 0 {
			ci.URI = c.URIs[0].String()
		}
		ci.Hosts = append(ci.Hosts, c.DNSNames...)
		for _, ip := range c.IPAddresses {
			ci.Hosts = append(ci.Hosts, ip.String())
		}
	}
	return ci
}

// UntrustedError is a server certificate the trust list does not trust.
type UntrustedError struct {
	Cert   CertInfo
	Reason string // why it is not trusted
	Saved  string // where it was saved for the operator ("" if it was not)
	PKI    string // the trust list's folder
}

func (e *UntrustedError) Error() string {
	s := fmt.Sprintf("%s: the server's certificate %q (SHA-1 thumbprint %s) %s", ErrUntrusted, e.Cert.Subject, e.Cert.Thumbprint, e.Reason)
	if e.Saved != "" {
		s += fmt.Sprintf("; it was saved as %s: compare its thumbprint with the server's own, then trust it with 'sealnet dcmb trust --pki %s %s' (source.pki_dir)", e.Saved, e.PKI, e.Cert.Thumbprint[:16])
	}
	return s
}

func (e *UntrustedError) Unwrap() error { return ErrUntrusted }

// Check decides whether the server certificate der, offered by the server
// at host, is trusted at now. An unknown certificate is saved under
// rejected and reported as an *UntrustedError.
func (t TrustList) Check(der []byte, host string, now time.Time) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return &UntrustedError{Cert: certInfo(der, ""), Reason: "is not an X.509 certificate: " + err.Error()}
	}
	info := certInfo(der, "")
	expired := func(c *x509.Certificate) string {
		if now.Before(c.NotBefore) {
			return "is not valid before " + c.NotBefore.UTC().Format(time.RFC3339)
		}
		if now.After(c.NotAfter) {
			return "expired on " + c.NotAfter.UTC().Format(time.RFC3339)
		}
		return ""
	}
	trusted, err := t.certs(pkiTrusted)
	if err != nil {
		return err
	}
	for _, c := range trusted {
		if bytes.Equal(c.Raw, der) {
			if why := expired(cert); why != "" {
				return &UntrustedError{Cert: info, Reason: "is trusted but " + why + ": the server needs a new certificate"}
			}
			return nil
		}
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range trusted {
		if c.IsCA {
			roots.AddCert(c)
		}
	}
	issuers, err := t.certs(pkiIssuers)
	if err != nil {
		return err
	}
	for _, c := range issuers {
		inter.AddCert(c)
	}
	chains, verr := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if verr == nil {
		if err := cert.VerifyHostname(host); err != nil {
			return &UntrustedError{Cert: info, Reason: fmt.Sprintf("is issued by a trusted CA but does not name the endpoint's host %s", host)}
		}
		if why, err := t.revoked(chains[0], now); err != nil {
			return err
		} else if why != "" {
			return &UntrustedError{Cert: info, Reason: why}
		}
		return nil
	}
	reason := "is not in the trust list (" + filepath.Join(t.Dir, pkiTrusted) + ")"
	if why := expired(cert); why != "" {
		reason += " and " + why
	}
	saved, err := t.reject(der, cert)
	if err != nil {
		return fmt.Errorf("save the refused server certificate: %w", err)
	}
	return &UntrustedError{Cert: info, Reason: reason, Saved: saved, PKI: t.Dir}
}

// revoked checks each certificate of chain (leaf first) against the CRLs
// of its issuer; a CA that publishes CRLs must have a current one.
func (t TrustList) revoked(chain []*x509.Certificate, now time.Time) (string, error) {
	crls, err := t.crls()
	if err != nil {
		return "", err
	}
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		for _, l := range crls {
			if !bytes.Equal(l.RawIssuer, issuer.RawSubject) || l.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if !l.NextUpdate.IsZero() && now.After(l.NextUpdate) {
				return fmt.Sprintf("cannot be checked for revocation: the CRL of %q is out of date since %s", issuer.Subject, l.NextUpdate.UTC().Format(time.RFC3339)), nil
			}
			for _, r := range l.RevokedCertificateEntries {
				if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
					return fmt.Sprintf("is revoked (certificate %q, by %q)", c.Subject, issuer.Subject), nil
				}
			}
		}
	}
	return "", nil
}

func (t TrustList) reject(der []byte, cert *x509.Certificate) (string, error) {
	dir := filepath.Join(t.Dir, pkiRejected)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, fileName(cert.Subject.CommonName, der))
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return p, durable.WriteFile(p, der, 0o600)
}

// fileName is node-opcua's naming of a stored certificate: the common
// name, then the thumbprint in brackets.
func fileName(cn string, der []byte) string {
	clean := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|[]`, r) {
			return '_'
		}
		return r
	}, cn)
	if len(clean) > 64 {
		clean = clean[:64]
	}
	return fmt.Sprintf("%s[%s].der", clean, Thumbprint(der))
}

// Rejected lists the refused certificates.
func (t TrustList) Rejected() ([]CertInfo, error) { return t.list(pkiRejected) }

// Trusted lists the trusted certificates.
func (t TrustList) Trusted() ([]CertInfo, error) { return t.list(pkiTrusted) }

// Trust moves the rejected certificate whose SHA-1 or SHA-256 thumbprint
// starts with prefix (at least 8 hex digits) into trusted/certs.
func (t TrustList) Trust(prefix string) (CertInfo, error) {
	prefix = strings.ToLower(strings.ReplaceAll(prefix, ":", ""))
	if len(prefix) < 8 {
		return CertInfo{}, errors.New("give at least 8 hex digits of the certificate's thumbprint")
	}
	rejected, err := t.Rejected()
	if err != nil {
		return CertInfo{}, err
	}
	var found []CertInfo
	for _, c := range rejected {
		if strings.HasPrefix(c.Thumbprint, prefix) || strings.HasPrefix(c.SHA256, prefix) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return CertInfo{}, fmt.Errorf("no rejected certificate has the thumbprint %s in %s", prefix, filepath.Join(t.Dir, pkiRejected))
	case 1:
	default:
		return CertInfo{}, fmt.Errorf("%d rejected certificates start with %s: give more digits", len(found), prefix)
	}
	c := found[0]
	if err := durable.MkdirAll(filepath.Join(t.Dir, pkiTrusted), 0o700); err != nil {
		return CertInfo{}, err
	}
	dst := filepath.Join(t.Dir, pkiTrusted, filepath.Base(c.Path))
	if err := os.Rename(c.Path, dst); err != nil {
		return CertInfo{}, err
	}
	// the operator's decision outlives a crash
	if err := errors.Join(durable.SyncDir(filepath.Dir(dst)), durable.SyncDir(filepath.Dir(c.Path))); err != nil {
		return CertInfo{}, err
	}
	c.Path = dst
	return c, nil
}

func (t TrustList) list(sub string) ([]CertInfo, error) {
	var out []CertInfo
	err := t.walk(sub, func(path string, der []byte) {
		out = append(out, certInfo(der, path))
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

func (t TrustList) certs(sub string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	err := t.walk(sub, func(_ string, der []byte) {
		if c, err := x509.ParseCertificate(der); err == nil {
			out = append(out, c)
		}
	})
	return out, err
}

func (t TrustList) crls() ([]*x509.RevocationList, error) {
	var out []*x509.RevocationList
	for _, sub := range []string{pkiTrustedCRL, pkiIssuersCRL} {
		err := t.walkBlocks(sub, "X509 CRL", func(_ string, der []byte) {
			if l, err := x509.ParseRevocationList(der); err == nil {
				out = append(out, l)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// walk calls f with each certificate in the folder sub (DER files, or PEM
// files of one or more certificates); a missing folder is empty.
func (t TrustList) walk(sub string, f func(path string, der []byte)) error {
	return t.walkBlocks(sub, "CERTIFICATE", f)
}

func (t TrustList) walkBlocks(sub, pemType string, f func(path string, der []byte)) error {
	entries, err := os.ReadDir(filepath.Join(t.Dir, sub))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(t.Dir, sub, e.Name())
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(raw, []byte("-----BEGIN")) {
			f(p, raw)
			continue
		}
		for rest := raw; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type == pemType {
				f(p, b.Bytes)
			}
		}
	}
	return nil
}

// version changes whenever a file of the trusted or issuer folders is
// added, removed or rewritten: a source refused by the trust list tries
// again then.
func (t TrustList) version() uint64 {
	h := fnv.New64a()
	for _, sub := range []string{pkiTrusted, pkiTrustedCRL, pkiIssuers, pkiIssuersCRL} {
		entries, _ := os.ReadDir(filepath.Join(t.Dir, sub))
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			fmt.Fprintf(h, "%s/%s %d %d\n", sub, e.Name(), fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return h.Sum64()
}
