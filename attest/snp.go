package attest

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	sevpb "github.com/google/go-sev-guest/proto/sevsnp"
	sevverify "github.com/google/go-sev-guest/verify"
	sevtrust "github.com/google/go-sev-guest/verify/trust"
)

// verifySNP checks an SEV-SNP report: its report data, its signature by
// the VCEK, and the VCEK's chain to a pinned ARK and ASK of its product
// line, at now. With the product line's CRL (collateral) it also checks
// that neither the ASK nor the VCEK is revoked. The library is never
// allowed to fetch: certificate fetching is off and its CRL check unused.
func (t *Trust) verifySNP(ev *Evidence, rd [64]byte, now time.Time, col Collateral) (*Verified, error) {
	report, err := sevabi.ReportToProto(ev.Quote)
	if err != nil {
		return nil, fmt.Errorf("%w: snp report: %v", ErrMalformed, err)
	}
	if !bytes.Equal(report.GetReportData(), rd[:]) {
		return nil, fmt.Errorf("%w: the report's report data binds another chain, job, worker, key or claim", ErrBinding)
	}
	info, err := sevabi.ParseSignerInfo(report.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("%w: snp signer info: %v", ErrMalformed, err)
	}
	if info.SigningKey != sevabi.VcekReportSigner {
		return nil, fmt.Errorf("%w: only VCEK-signed reports are supported", ErrSignature)
	}
	vcek, err := x509.ParseCertificate(ev.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: VCEK: %v", ErrMalformed, err)
	}
	line, err := productLine(report, vcek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	roots := t.amdRoots(line)
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no trusted root for product line %q", ErrSignature, line)
	}
	// Fresh root objects for every call: go-sev-guest caches a CRL in
	// them, which must never carry over from one verification to another.
	trusted := map[string][]*sevtrust.AMDRootCerts{}
	for _, r := range roots {
		trusted[line] = append(trusted[line], &sevtrust.AMDRootCerts{ProductLine: line, Product: line,
			ProductCerts: &sevtrust.ProductCerts{Ark: r.ARK, Ask: r.ASK}})
	}
	att := &sevpb.Attestation{Report: report, CertificateChain: &sevpb.CertificateChain{VcekCert: ev.Cert}}
	opts := &sevverify.Options{Now: now, DisableCertFetching: true, TrustedRoots: trusted, Getter: refuse{}}
	if err := sevverify.SnpAttestation(att, opts); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	pol, err := sevabi.ParseSnpPolicy(report.GetPolicy())
	if err != nil {
		return nil, fmt.Errorf("%w: snp policy: %v", ErrMalformed, err)
	}
	v := &Verified{Kind: KindSNP, Measurement: report.GetMeasurement(), Debug: pol.Debug, Platform: line}
	c, err := col.SNP(line)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCollateral, err)
	}
	if c == nil {
		return v, nil
	}
	ci, err := t.CheckSNPCollateral(c, now)
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		if ci.revoked(r.ASK.SerialNumber) {
			return nil, fmt.Errorf("%w: the ASK of %s is revoked", ErrTCB, line)
		}
	}
	if ci.revoked(vcek.SerialNumber) {
		return nil, fmt.Errorf("%w: the VCEK is revoked", ErrTCB)
	}
	v.Collateral = true
	return v, nil
}

// productLine is the report's product line: from the CPUID in a v3+
// report, else from the VCEK's product name.
func productLine(report *sevpb.Report, vcek *x509.Certificate) (string, error) {
	if fms := report.GetCpuid1EaxFms(); fms != 0 {
		if l := kds.ProductLineFromFms(fms); l != "" {
			return l, nil
		}
	}
	exts, err := kds.VcekCertificateExtensions(vcek)
	if err != nil {
		return "", fmt.Errorf("VCEK extensions: %v", err)
	}
	p, err := kds.ParseProductName(exts.ProductName, sevabi.VcekReportSigner)
	if err != nil {
		return "", err
	}
	return kds.ProductLine(p), nil
}

// refuse is the getter go-sev-guest is given: verification never fetches.
type refuse struct{}

func (refuse) Get(u string) ([]byte, error) {
	return nil, errors.New("no network access during verification: " + u)
}
