package attest

import (
	_ "embed"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	sevabi "github.com/google/go-sev-guest/abi"
	tdxabi "github.com/google/go-tdx-guest/abi"
	tdxpb "github.com/google/go-tdx-guest/proto/tdx"
)

// Real evidence from the vendors' test suites (testdata/README.md): the
// throughput of the verifiers is measured on it, as the benchmarks of
// this package do.
var (
	//go:embed testdata/tdx_prod_quote_SPR_E4.dat
	sampleTDXQuote []byte
	//go:embed testdata/snp_attestation.bin
	sampleSNPReport []byte
	//go:embed testdata/snp_vcek.der
	sampleSNPVCEK []byte
)

// sampleTime is within the validity of both samples' certificates.
var sampleTime = time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)

// MeasureVerify verifies the sample evidence of kind (tdx or snp) against
// the vendors' pinned roots, without collateral, on every core for about
// d, and returns verifications per second. The samples' report data bind
// no sealnet claim, so the binding is taken from the evidence itself; the
// signature and certificate checks are the contract's.
func MeasureVerify(kind Kind, d time.Duration) (float64, error) {
	trust := VendorTrust()
	var verify func() error
	switch kind {
	case KindTDX:
		q, err := tdxabi.QuoteToProto(sampleTDXQuote)
		if err != nil {
			return 0, err
		}
		var rd [64]byte
		copy(rd[:], q.(*tdxpb.QuoteV4).GetTdQuoteBody().GetReportData())
		ev := &Evidence{Kind: KindTDX, Quote: sampleTDXQuote}
		verify = func() error { _, err := trust.verifyTDX(ev, rd, sampleTime, NoCollateral{}); return err }
	case KindSNP:
		r, err := sevabi.ReportToProto(sampleSNPReport)
		if err != nil {
			return 0, err
		}
		var rd [64]byte
		copy(rd[:], r.GetReportData())
		ev := &Evidence{Kind: KindSNP, Quote: sampleSNPReport, Cert: sampleSNPVCEK}
		verify = func() error { _, err := trust.verifySNP(ev, rd, sampleTime, NoCollateral{}); return err }
	default:
		return 0, fmt.Errorf("attest: no sample evidence of kind %q", kind)
	}
	if err := verify(); err != nil {
		return 0, fmt.Errorf("attest: the %s sample does not verify: %w", kind, err)
	}
	var n atomic.Int64
	var failed atomic.Value
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := verify(); err != nil {
					failed.Store(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}
