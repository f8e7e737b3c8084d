// Package attest is sealnet's remote attestation: a worker's trusted
// execution environment (TEE) reports what it runs and a key it holds,
// and anyone, the chain included, verifies the report offline.
//
// The report data the hardware signs is the hash of a Binding: the chain,
// the job, the worker's certificate, the enclave's ephemeral public key and
// the block of the worker's claim. Evidence made for one claim therefore
// verifies for no other job, chain, worker, key or later claim.
//
// Verification is deterministic, so contracts run it: the time is a
// parameter (the block time), the vendor roots are pinned in the Trust,
// the collateral (Intel's TCB info, QE identity and CRLs; AMD's CRL) comes
// from the caller (chain state), and nothing is fetched from the network.
// Three kinds exist:
//
//   - tdx: an Intel TDX quote (v4), verified with go-tdx-guest against the
//     Intel SGX root;
//   - snp: an AMD SEV-SNP attestation report with its VCEK certificate,
//     verified with go-sev-guest against AMD's ARK and ASK;
//   - software: the enclave key signs the report data itself. It proves
//     possession of the key and nothing about what runs or who can read
//     its memory; it exists for development and is NOT CONFIDENTIAL.
//
// Verify checks evidence in this order: it decodes, compares the report
// data with the binding (a replay for another job fails here, cheaply),
// checks the signature and certificate chain (ErrSignature), then the
// collateral the caller holds for the platform (ErrCollateral, ErrTCB). A
// Policy then decides whether what was attested is acceptable.
package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
)

// Kind names a kind of evidence.
type Kind string

// The kinds.
const (
	KindTDX      Kind = "tdx"
	KindSNP      Kind = "snp"
	KindSoftware Kind = "software"
)

// Confidential reports whether the kind protects the data it processes
// from the machine's owner.
func (k Kind) Confidential() bool { return k == KindTDX || k == KindSNP }

// Known reports whether k is one of the kinds.
func (k Kind) Known() bool { return k == KindTDX || k == KindSNP || k == KindSoftware }

// NotConfidential is how every output names a job whose data a worker
// sees in clear.
const NotConfidential = "NOT CONFIDENTIAL"

// MaxEvidence bounds encoded evidence (a TDX quote with its certificate
// chain is about 5 KB).
const MaxEvidence = 16 << 10

// Errors of Verify, Check and DecodeEvidence. Each names one reason for a
// refusal, so a contract can record it.
var (
	ErrMalformed   = errors.New("evidence malformed")
	ErrUnknownKind = errors.New("unknown evidence kind")
	ErrBinding     = errors.New("evidence is not for this claim")
	ErrSignature   = errors.New("evidence signature or certificate chain does not verify")
	ErrCollateral  = errors.New("collateral missing, invalid or expired")
	ErrTCB         = errors.New("platform TCB not up to date")
	ErrPolicy      = errors.New("evidence not accepted by the policy")
)

// Evidence is what a worker submits: canonical CBOR.
type Evidence struct {
	Kind Kind `cbor:"1,keyasint"`
	// Quote is the TDX quote or the SNP attestation report, as the
	// hardware wrote it.
	Quote []byte `cbor:"2,keyasint,omitempty"`
	// Cert is the SNP report's signing certificate (VCEK, DER).
	Cert []byte `cbor:"3,keyasint,omitempty"`
	// Sig is the software kind's signature of the report data by the
	// enclave key (r||s, low S).
	Sig []byte `cbor:"4,keyasint,omitempty"`
}

// Encode returns the evidence's canonical encoding.
func (e *Evidence) Encode() []byte { return canon.MustMarshal(e) }

// DecodeEvidence parses evidence strictly: canonical, bounded, a known
// kind with exactly its fields.
func DecodeEvidence(raw []byte) (*Evidence, error) {
	if len(raw) > MaxEvidence {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(raw), MaxEvidence)
	}
	var e Evidence
	if err := canon.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch e.Kind {
	case KindTDX:
		if len(e.Quote) == 0 || e.Cert != nil || e.Sig != nil {
			return nil, fmt.Errorf("%w: tdx evidence is a quote only", ErrMalformed)
		}
	case KindSNP:
		if len(e.Quote) == 0 || len(e.Cert) == 0 || e.Sig != nil {
			return nil, fmt.Errorf("%w: snp evidence is a report and its VCEK", ErrMalformed)
		}
	case KindSoftware:
		if e.Quote != nil || e.Cert != nil || len(e.Sig) != identity.SignatureSize {
			return nil, fmt.Errorf("%w: software evidence is a %d-byte signature", ErrMalformed, identity.SignatureSize)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, e.Kind)
	}
	return &e, nil
}

// Binding is what evidence commits to.
type Binding struct {
	Chain       string               // the channel (chain ID)
	Job         string               // the job's ID
	Worker      identity.Fingerprint // the worker's certificate
	EnclaveKey  []byte               // the enclave's ephemeral P-256 key, SEC1 uncompressed
	ClaimHeight int64                // the block that recorded the worker's claim
}

const bindingDomain = "sealnet/attest/v1\x00"

// ReportData is the 64 bytes the hardware signs:
//
//	SHA-512("sealnet/attest/v1\0" || u32be(len(chain)) || chain ||
//	        u32be(len(job)) || job || worker || u32be(len(key)) || key ||
//	        u64be(claim height))
func (b Binding) ReportData() [64]byte {
	h := sha512.New()
	h.Write([]byte(bindingDomain))
	lp := func(s []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		h.Write(s)
	}
	lp([]byte(b.Chain))
	lp([]byte(b.Job))
	h.Write(b.Worker[:])
	lp(b.EnclaveKey)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(b.ClaimHeight)))
	var out [64]byte
	h.Sum(out[:0])
	return out
}

// NewEnclaveKey makes an enclave's ephemeral key: it signs the enclave's
// results (ECDSA) and receives the job's data keys (HPKE).
func NewEnclaveKey() (*ecdsa.PrivateKey, error) { return identity.NewKey() }

// EncodeKey returns a P-256 public key in SEC1 uncompressed form.
func EncodeKey(pub *ecdsa.PublicKey) []byte {
	k, err := pub.ECDH()
	if err != nil {
		panic("attest: encode a key that is not P-256: " + err.Error())
	}
	return k.Bytes()
}

// ParseKey parses a SEC1 uncompressed P-256 public key.
func ParseKey(b []byte) (*ecdsa.PublicKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		return nil, fmt.Errorf("enclave key: %w", err)
	}
	return pub, nil
}

const softwareDomain = "sealnet/attest/software/v1\x00"

func softwareDigest(rd [64]byte) []byte {
	d := sha256.Sum256(append([]byte(softwareDomain), rd[:]...))
	return d[:]
}
