package attest

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	sevtrust "github.com/google/go-sev-guest/verify/trust"
)

// intelRoot is the Intel SGX Root CA (SHA-256 fingerprint
// 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3),
// which certifies TDX quoting enclaves and Intel's collateral.
//
//go:embed roots/intel_sgx_root_ca.pem
var intelRootPEM []byte

// Trust holds the roots evidence must chain to. It is immutable after
// construction and safe to share.
type Trust struct {
	// Name says which roots these are ("vendor" for Intel's and AMD's);
	// it is recorded with every attestation verified under them.
	Name  string
	intel []*x509.Certificate
	amd   []AMDRoot
}

// AMDRoot is the root (ARK) and the intermediate (ASK) AMD certifies a
// product line's VCEKs with.
type AMDRoot struct {
	ProductLine string // "Milan", "Genoa", "Turin"
	ARK, ASK    *x509.Certificate
}

// NewTrust returns a Trust of the given roots: Intel SGX root CAs for TDX
// and AMD product roots for SEV-SNP.
func NewTrust(name string, intel []*x509.Certificate, amd []AMDRoot) *Trust {
	return &Trust{Name: name, intel: intel, amd: amd}
}

// VendorTrust returns the vendors' production roots: the Intel SGX Root
// CA, and AMD's ARK and ASK of Milan, Genoa and Turin (VCEK chains; a
// report signed with a VLEK is refused).
func VendorTrust() *Trust {
	blk, _ := pem.Decode(intelRootPEM)
	if blk == nil {
		panic("attest: embedded Intel root is not PEM")
	}
	intel, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		panic("attest: embedded Intel root: " + err.Error())
	}
	t := &Trust{Name: "vendor", intel: []*x509.Certificate{intel}}
	for _, p := range []struct {
		line string
		pem  []byte
	}{{"Milan", sevtrust.AskArkMilanVcekBytes}, {"Genoa", sevtrust.AskArkGenoaVcekBytes}, {"Turin", sevtrust.AskArkTurinVcekBytes}} {
		var pc sevtrust.ProductCerts
		if err := pc.FromKDSCertBytes(p.pem); err != nil {
			panic("attest: embedded AMD roots of " + p.line + ": " + err.Error())
		}
		t.amd = append(t.amd, AMDRoot{ProductLine: p.line, ARK: pc.Ark, ASK: pc.Ask})
	}
	return t
}

// Intel returns the trusted Intel roots.
func (t *Trust) Intel() []*x509.Certificate { return append([]*x509.Certificate(nil), t.intel...) }

// AMD returns the trusted AMD product roots.
func (t *Trust) AMD() []AMDRoot { return append([]AMDRoot(nil), t.amd...) }

func (t *Trust) intelPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range t.intel {
		pool.AddCert(c)
	}
	return pool
}

// isIntelRoot reports whether c is one of the pinned Intel roots.
func (t *Trust) isIntelRoot(c *x509.Certificate) bool {
	for _, r := range t.intel {
		if bytes.Equal(r.Raw, c.Raw) {
			return true
		}
	}
	return false
}

func (t *Trust) amdRoots(productLine string) []AMDRoot {
	var out []AMDRoot
	for _, r := range t.amd {
		if r.ProductLine == productLine {
			out = append(out, r)
		}
	}
	return out
}

// Collateral gives the collateral the caller holds for a platform: nil
// and no error when it holds none.
type Collateral interface {
	TDX(fmspc string) (*TDXCollateral, error)
	SNP(productLine string) (*SNPCollateral, error)
}

// NoCollateral holds none.
type NoCollateral struct{}

// TDX implements Collateral.
func (NoCollateral) TDX(string) (*TDXCollateral, error) { return nil, nil }

// SNP implements Collateral.
func (NoCollateral) SNP(string) (*SNPCollateral, error) { return nil, nil }

// Verified is what verified evidence says.
type Verified struct {
	Kind Kind
	// Measurement is the SNP launch MEASUREMENT or the TDX MRTD (48
	// bytes); nil for software.
	Measurement []byte
	// RTMRs are TDX's runtime measurement registers 0-3.
	RTMRs [][]byte
	// Debug is set when the TEE lets its host read its memory.
	Debug bool
	// Platform names the hardware family: the TDX FMSPC or the SNP
	// product line.
	Platform string
	// Collateral reports whether collateral was checked (TCB up to date,
	// revocations); without it the TCB is unknown.
	Collateral bool
	// Roots names the Trust the evidence chained to.
	Roots string
}

// Verify checks evidence against the binding at time now. Errors wrap one
// of the package's sentinels.
//
// The parsers beneath panic on some malformed input (go-tdx-guest v0.3.1
// slices past the end of a crafted quote); Verify turns a panic into
// ErrMalformed, which is deterministic, instead of taking the node down.
func (t *Trust) Verify(ev *Evidence, b Binding, now time.Time, col Collateral) (v *Verified, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: the %s parser failed on it", ErrMalformed, ev.Kind)
		}
	}()
	if now.IsZero() {
		return nil, errors.New("attest: verify needs a time")
	}
	if col == nil {
		col = NoCollateral{}
	}
	rd := b.ReportData()
	switch ev.Kind {
	case KindTDX:
		v, err = t.verifyTDX(ev, rd, now, col)
	case KindSNP:
		v, err = t.verifySNP(ev, rd, now, col)
	case KindSoftware:
		v, err = verifySoftware(ev, b, rd)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, ev.Kind)
	}
	if err != nil {
		return nil, err
	}
	v.Roots = t.Name
	return v, nil
}
