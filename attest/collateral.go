package attest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/google/go-tdx-guest/pcs"
)

// TDXCollateral is Intel's collateral for one platform family (FMSPC),
// exactly as Intel's PCS serves it: the TCB info and the TDX QE identity
// with the certificate chains that sign them, the PCK CRL and the root CA
// CRL. It is self-authenticating (Intel signs every part), so anyone may
// bring it; CheckTDXCollateral verifies it.
type TDXCollateral struct {
	TCBInfo         []byte `cbor:"1,keyasint"` // body of /tdx/certification/v4/tcb?fmspc=...
	TCBInfoChain    []byte `cbor:"2,keyasint"` // PEM, its Tcb-Info-Issuer-Chain header: signing certificate, root
	QEIdentity      []byte `cbor:"3,keyasint"` // body of /tdx/certification/v4/qe/identity
	QEIdentityChain []byte `cbor:"4,keyasint"` // PEM, its Sgx-Enclave-Identity-Issuer-Chain header
	PCKCRL          []byte `cbor:"5,keyasint"` // DER, /sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
	PCKCRLChain     []byte `cbor:"6,keyasint"` // PEM, its Sgx-Pck-Crl-Issuer-Chain header: PCK CA, root
	RootCRL         []byte `cbor:"7,keyasint"` // DER, the Intel SGX Root CA's CRL
}

// TDXCollateralInfo is what a verified TDXCollateral says.
type TDXCollateralInfo struct {
	FMSPC string // lowercase hex
	// Evaluation is Intel's TCB evaluation data number: a newer TCB
	// assessment has a higher one.
	Evaluation int
	Issued     time.Time // the TCB info's issue date
	NextUpdate time.Time // the earliest next update of its parts: expiry
	PCKCA      string    // "platform" or "processor"

	c               *TDXCollateral
	tcbBody, qeBody []byte   // the signed documents, rebuilt from their verified parts
	rootCRLs        []string // where the root names its CRL
}

// CheckTDXCollateral verifies every part of c against the pinned Intel
// roots and its freshness at now.
func (t *Trust) CheckTDXCollateral(c *TDXCollateral, now time.Time) (info *TDXCollateralInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			info, err = nil, fmt.Errorf("%w: tdx: a parser failed on it", ErrCollateral)
		}
	}()
	info, err = t.checkTDXCollateral(c, now)
	if err != nil {
		return nil, fmt.Errorf("%w: tdx: %v", ErrCollateral, err)
	}
	return info, nil
}

func (t *Trust) checkTDXCollateral(c *TDXCollateral, now time.Time) (*TDXCollateralInfo, error) {
	var tcb pcs.TcbInfo
	tcbBody, root, err := t.signedJSON("tcbInfo", c.TCBInfo, c.TCBInfoChain, &tcb, now)
	if err != nil {
		return nil, fmt.Errorf("TCB info: %v", err)
	}
	if tcb.ID != "TDX" {
		return nil, fmt.Errorf("TCB info is not TDX's")
	}
	var qe pcs.EnclaveIdentity
	qeBody, _, err := t.signedJSON("enclaveIdentity", c.QEIdentity, c.QEIdentityChain, &qe, now)
	if err != nil {
		return nil, fmt.Errorf("QE identity: %v", err)
	}
	if qe.ID != "TD_QE" {
		return nil, fmt.Errorf("QE identity is not the TDX quoting enclave's")
	}
	info := &TDXCollateralInfo{FMSPC: tcb.Fmspc, Evaluation: tcb.TcbEvaluationDataNumber, Issued: tcb.IssueDate, NextUpdate: tcb.NextUpdate,
		c: c, tcbBody: tcbBody, qeBody: qeBody, rootCRLs: root.CRLDistributionPoints}
	if _, err := hex.DecodeString(info.FMSPC); err != nil || len(info.FMSPC) != 12 {
		return nil, fmt.Errorf("TCB info FMSPC %q", info.FMSPC)
	}
	for _, d := range []struct {
		what          string
		issued, until time.Time
	}{{"TCB info", tcb.IssueDate, tcb.NextUpdate}, {"QE identity", qe.IssueDate, qe.NextUpdate}} {
		if now.Before(d.issued) || now.After(d.until) {
			return nil, fmt.Errorf("%s is valid %s to %s, not at %s", d.what, stamp(d.issued), stamp(d.until), stamp(now))
		}
	}
	info.NextUpdate = earliest(info.NextUpdate, qe.NextUpdate)

	// PCK CRL, signed by the PCK CA that chains to the root
	chain, err := parseChain(c.PCKCRLChain, 2)
	if err != nil {
		return nil, fmt.Errorf("PCK CRL chain: %v", err)
	}
	if err := t.checkIntelChain(chain[0], chain[1], now); err != nil {
		return nil, fmt.Errorf("PCK CRL chain: %v", err)
	}
	switch chain[0].Subject.CommonName {
	case "Intel SGX PCK Platform CA":
		info.PCKCA = "platform"
	case "Intel SGX PCK Processor CA":
		info.PCKCA = "processor"
	default:
		return nil, fmt.Errorf("PCK CRL issuer %q", chain[0].Subject.CommonName)
	}
	pckCRL, err := freshCRL(c.PCKCRL, chain[0], now)
	if err != nil {
		return nil, fmt.Errorf("PCK CRL: %v", err)
	}
	rootCRL, err := freshCRL(c.RootCRL, chain[1], now)
	if err != nil {
		return nil, fmt.Errorf("root CA CRL: %v", err)
	}
	info.NextUpdate = earliest(info.NextUpdate, earliest(pckCRL.NextUpdate, rootCRL.NextUpdate))
	return info, nil
}

// signedJSON verifies one of Intel's signed JSON documents, an object of
// exactly two members, field and "signature": the signing certificate
// chains to a pinned root at now and signs the raw bytes of field, which
// decode into v. It returns the document rebuilt from the verified parts.
//
// Decoding v from the signed bytes alone matters: encoding/json matches
// member names case-insensitively, so a body carrying a genuine "tcbInfo"
// and a forged "TcbInfo" after it would verify the first and decode the
// second. Such a body is refused, and what is served on is rebuilt.
func (t *Trust) signedJSON(field string, body, chainPEM []byte, v any, now time.Time) (canonical []byte, root *x509.Certificate, err error) {
	var members map[string]json.RawMessage // looked up, never iterated
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, nil, err
	}
	raw, ok := members[field]
	sigJSON, sok := members["signature"]
	if !ok || !sok || len(members) != 2 {
		return nil, nil, fmt.Errorf("want exactly the members %q and \"signature\"", field)
	}
	var sig string
	if err := json.Unmarshal(sigJSON, &sig); err != nil {
		return nil, nil, fmt.Errorf("signature: %v", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, nil, err
	}
	chain, err := parseChain(chainPEM, 2)
	if err != nil {
		return nil, nil, err
	}
	signer := chain[0]
	if signer.Subject.CommonName != "Intel SGX TCB Signing" {
		return nil, nil, fmt.Errorf("signed by %q", signer.Subject.CommonName)
	}
	if err := t.checkIntelChain(signer, chain[1], now); err != nil {
		return nil, nil, err
	}
	rs, err := hex.DecodeString(sig)
	if err != nil || len(rs) != 64 {
		return nil, nil, errors.New("signature is not 64 bytes of hex")
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, errors.New("signing key is not ECDSA")
	}
	d := sha256.Sum256(raw)
	if !ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])) {
		return nil, nil, errors.New("signature does not verify")
	}
	canonical = fmt.Appendf(nil, `{"%s":%s,"signature":"%s"}`, field, raw, sig)
	return canonical, chain[1], nil
}

// checkIntelChain checks that root is a pinned Intel root and cert is
// issued by it, both valid at now.
func (t *Trust) checkIntelChain(cert, root *x509.Certificate, now time.Time) error {
	if !t.isIntelRoot(root) {
		return errors.New("root is not a trusted Intel root")
	}
	if err := cert.CheckSignatureFrom(root); err != nil {
		return err
	}
	for _, c := range []*x509.Certificate{cert, root} {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("certificate %q is valid %s to %s", c.Subject.CommonName, stamp(c.NotBefore), stamp(c.NotAfter))
		}
	}
	return nil
}

func parseChain(p []byte, n int) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(out) < n {
		var blk *pem.Block
		blk, p = pem.Decode(p)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("want %d PEM certificates", n)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(p) != 0 {
		if blk, _ := pem.Decode(p); blk != nil {
			return nil, fmt.Errorf("more than %d certificates", n)
		}
	}
	return out, nil
}

// freshCRL parses a DER CRL signed by issuer and current at now.
func freshCRL(der []byte, issuer *x509.Certificate, now time.Time) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, err
	}
	if now.Before(crl.ThisUpdate) || now.After(crl.NextUpdate) {
		return nil, fmt.Errorf("valid %s to %s, not at %s", stamp(crl.ThisUpdate), stamp(crl.NextUpdate), stamp(now))
	}
	return crl, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// getter serves the collateral to go-tdx-guest in place of Intel's PCS,
// and nothing else: a URL it does not hold is an error, never a fetch.
func (i *TDXCollateralInfo) getter() *collateralGetter { return &collateralGetter{i} }

type collateralGetter struct{ i *TDXCollateralInfo }

func issuerHeader(name string, chain []byte) map[string][]string {
	return map[string][]string{name: {url.QueryEscape(string(chain))}}
}

// Get implements go-tdx-guest's trust.HTTPSGetter.
func (g *collateralGetter) Get(u string) (map[string][]string, []byte, error) {
	c := g.i.c
	switch u {
	case pcs.TcbInfoURL(g.i.FMSPC):
		return issuerHeader("Tcb-Info-Issuer-Chain", c.TCBInfoChain), g.i.tcbBody, nil
	case pcs.QeIdentityURL():
		return issuerHeader("Sgx-Enclave-Identity-Issuer-Chain", c.QEIdentityChain), g.i.qeBody, nil
	case pcs.PckCrlURL(g.i.PCKCA):
		return issuerHeader("Sgx-Pck-Crl-Issuer-Chain", c.PCKCRLChain), c.PCKCRL, nil
	}
	for _, r := range g.i.rootCRLs {
		if u == r {
			return nil, c.RootCRL, nil
		}
	}
	return nil, nil, fmt.Errorf("collateral for %s is not held on chain", u)
}

// SNPCollateral is AMD's certificate revocation list of one product line,
// signed by its ARK.
type SNPCollateral struct {
	ProductLine string `cbor:"1,keyasint"`
	CRL         []byte `cbor:"2,keyasint"` // DER, https://kdsintf.amd.com/vcek/v1/<product line>/crl
}

// SNPCollateralInfo is what a verified SNPCollateral says.
type SNPCollateralInfo struct {
	ProductLine string
	Number      *big.Int // the CRL number: a newer list has a higher one
	ThisUpdate  time.Time
	NextUpdate  time.Time
	crl         *x509.RevocationList
}

// CheckSNPCollateral verifies the CRL against the product line's pinned
// ARK and its freshness at now.
func (t *Trust) CheckSNPCollateral(c *SNPCollateral, now time.Time) (*SNPCollateralInfo, error) {
	roots := t.amdRoots(c.ProductLine)
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: snp: no trusted root for product line %q", ErrCollateral, c.ProductLine)
	}
	var lastErr error
	for _, r := range roots {
		crl, err := freshCRL(c.CRL, r.ARK, now)
		if err != nil {
			lastErr = err
			continue
		}
		n := crl.Number
		if n == nil {
			n = new(big.Int)
		}
		return &SNPCollateralInfo{ProductLine: c.ProductLine, Number: n, ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, crl: crl}, nil
	}
	return nil, fmt.Errorf("%w: snp CRL of %s: %v", ErrCollateral, c.ProductLine, lastErr)
}

// revoked reports whether the CRL lists serial.
func (i *SNPCollateralInfo) revoked(serial *big.Int) bool {
	for _, e := range i.crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
