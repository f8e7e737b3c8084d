package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	tdxabi "github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	tdxpb "github.com/google/go-tdx-guest/proto/tdx"
	tdxverify "github.com/google/go-tdx-guest/verify"
)

// tdxDebug is bit 0 of the TD attributes: the TD is debuggable, its host
// can read and write its memory.
const tdxDebug = 0x01

// verifyTDX checks a TDX quote: its report data, its signature by the
// attestation key, the quoting enclave's report signed by the PCK
// certificate, and the PCK chain to a pinned Intel root, all at now. With
// collateral for the quote's FMSPC it also checks the TCB info and QE
// identity (signed by Intel, fresh at now) and that neither the PCK nor the
// signing certificates are revoked; the platform's TCB must then be up to
// date.
func (t *Trust) verifyTDX(ev *Evidence, rd [64]byte, now time.Time, col Collateral) (*Verified, error) {
	q, err := tdxabi.QuoteToProto(ev.Quote)
	if err != nil {
		return nil, fmt.Errorf("%w: tdx quote: %v", ErrMalformed, err)
	}
	quote, ok := q.(*tdxpb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("%w: tdx quote of an unsupported version", ErrMalformed)
	}
	if err := tdxabi.CheckQuoteV4(quote); err != nil {
		return nil, fmt.Errorf("%w: tdx quote: %v", ErrMalformed, err)
	}
	body := quote.GetTdQuoteBody()
	if !bytes.Equal(body.GetReportData(), rd[:]) {
		return nil, fmt.Errorf("%w: the quote's report data binds another chain, job, worker, key or claim", ErrBinding)
	}
	if len(t.intel) == 0 {
		return nil, fmt.Errorf("%w: no Intel root is trusted", ErrSignature)
	}
	pool := t.intelPool()
	if err := tdxverify.TdxQuote(quote, &tdxverify.Options{Now: now, TrustedRoots: pool}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	pck, err := pckLeaf(quote)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	exts, err := pcs.PckCertificateExtensions(pck)
	if err != nil {
		return nil, fmt.Errorf("%w: PCK certificate: %v", ErrMalformed, err)
	}
	v := &Verified{Kind: KindTDX, Measurement: body.GetMrTd(), RTMRs: body.GetRtmrs(),
		Debug: len(body.GetTdAttributes()) > 0 && body.GetTdAttributes()[0]&tdxDebug != 0, Platform: "fmspc " + exts.FMSPC}
	c, err := col.TDX(exts.FMSPC)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCollateral, err)
	}
	if c == nil {
		return v, nil
	}
	parsed, err := t.CheckTDXCollateral(c, now)
	if err != nil {
		return nil, err
	}
	opts := &tdxverify.Options{Now: now, TrustedRoots: pool, GetCollateral: true, CheckRevocations: true, Getter: parsed.getter()}
	if err := tdxverify.TdxQuote(quote, opts); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTCB, err)
	}
	v.Collateral = true
	return v, nil
}

// pckLeaf returns the PCK certificate, the first of the quote's chain.
func pckLeaf(quote *tdxpb.QuoteV4) (*x509.Certificate, error) {
	chain := quote.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	blk, _ := pem.Decode(chain)
	if blk == nil {
		return nil, fmt.Errorf("quote carries no PCK certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}
