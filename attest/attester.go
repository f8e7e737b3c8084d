package attest

import (
	"fmt"
	"strings"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/linuxtsm"
	"github.com/google/go-configfs-tsm/report"
	sevabi "github.com/google/go-sev-guest/abi"
)

// Attester makes evidence for a binding on the worker's machine.
type Attester interface {
	Kind() Kind
	Attest(b Binding) (*Evidence, error)
}

// TSM is the attester of a confidential VM (Intel TDX or AMD SEV-SNP guest)
// through the kernel's configfs-tsm interface (/sys/kernel/config/tsm/report,
// Linux 6.7 and later): it writes the report data and reads back the
// hardware's quote or report, and for SNP the VCEK from the auxiliary blob.
//
// It has not been run on TEE hardware: the machines it was written on
// have none. Its tests drive it through a fake configfs that answers like
// an SNP guest with a test-only AMD chain.
type TSM struct {
	// Client is the configfs client; nil means the kernel's
	// (linuxtsm.MakeClient).
	Client configfsi.Client
	kind   Kind
}

// Kind implements Attester: the kind of the last report made ("" before).
func (t *TSM) Kind() Kind { return t.kind }

// Attest implements Attester.
func (t *TSM) Attest(b Binding) (*Evidence, error) {
	c := t.Client
	if c == nil {
		var err error
		if c, err = linuxtsm.MakeClient(); err != nil {
			return nil, fmt.Errorf("attest: configfs-tsm is not available (not a TDX or SEV-SNP guest?): %w", err)
		}
	}
	rd := b.ReportData()
	resp, err := report.Get(c, &report.Request{InBlob: rd[:], GetAuxBlob: true})
	if err != nil {
		return nil, fmt.Errorf("attest: configfs-tsm report: %w", err)
	}
	switch provider := strings.TrimSpace(resp.Provider); provider {
	case "tdx_guest":
		t.kind = KindTDX
		return &Evidence{Kind: KindTDX, Quote: resp.OutBlob}, nil
	case "sev_guest":
		t.kind = KindSNP
		var certs sevabi.CertTable
		if err := certs.Unmarshal(resp.AuxBlob); err != nil {
			return nil, fmt.Errorf("attest: SNP certificate table: %w", err)
		}
		vcek, err := certs.GetByGUIDString(sevabi.VcekGUID)
		if err != nil {
			return nil, fmt.Errorf("attest: the host supplied no VCEK (provision it, e.g. from AMD's KDS, into the host's certificate table): %w", err)
		}
		return &Evidence{Kind: KindSNP, Quote: resp.OutBlob, Cert: vcek}, nil
	default:
		return nil, fmt.Errorf("attest: configfs-tsm provider %q is not supported", provider)
	}
}
