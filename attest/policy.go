package attest

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// MeasurementSize is the size of an SNP MEASUREMENT, a TDX MRTD and a TDX
// RTMR (SHA-384).
const MeasurementSize = 48

// Measurement is one accepted TEE image.
type Measurement struct {
	Kind Kind `cbor:"kind"`
	// Value is the SNP launch MEASUREMENT or the TDX MRTD.
	Value []byte `cbor:"value"`
	// RTMRs, for TDX, are compared with RTMR0, RTMR1, ... in order; an
	// empty entry matches anything.
	RTMRs [][]byte `cbor:"rtmrs,omitempty"`
}

// Policy is what a job accepts as its workers' TEE.
type Policy struct {
	// Kinds lists the accepted kinds. Software must be listed to be
	// accepted: it is not confidential.
	Kinds []Kind `cbor:"kinds"`
	// Measurements lists the accepted images; a TEE kind needs at least
	// one, since a TEE running unknown code protects nothing.
	Measurements []Measurement `cbor:"measurements,omitempty"`
	// RequireCollateral refuses TEE evidence the chain holds no
	// collateral for (the TCB would be unknown).
	RequireCollateral bool `cbor:"require_collateral,omitempty"`
	// AllowDebug accepts a debuggable TEE, whose host can read it: for
	// testing only.
	AllowDebug bool `cbor:"allow_debug,omitempty"`
}

// MaxMeasurements bounds a policy's list.
const MaxMeasurements = 32

// Validate checks the policy's form.
func (p Policy) Validate() error {
	if len(p.Kinds) == 0 || len(p.Kinds) > 3 {
		return fmt.Errorf("policy: name 1 to 3 kinds")
	}
	for i, k := range p.Kinds {
		if !k.Known() {
			return fmt.Errorf("policy: unknown kind %q", k)
		}
		for _, o := range p.Kinds[:i] {
			if o == k {
				return fmt.Errorf("policy: kind %q listed twice", k)
			}
		}
	}
	if len(p.Measurements) > MaxMeasurements {
		return fmt.Errorf("policy: more than %d measurements", MaxMeasurements)
	}
	for _, m := range p.Measurements {
		if !m.Kind.Confidential() || !p.Accepts(m.Kind) {
			return fmt.Errorf("policy: a measurement of kind %q, which the policy does not accept as a TEE", m.Kind)
		}
		if len(m.Value) != MeasurementSize {
			return fmt.Errorf("policy: a %s measurement is %d bytes, want %d", m.Kind, len(m.Value), MeasurementSize)
		}
		if m.Kind != KindTDX && len(m.RTMRs) > 0 || len(m.RTMRs) > 4 {
			return fmt.Errorf("policy: RTMRs are TDX's, at most 4")
		}
		for _, r := range m.RTMRs {
			if len(r) != 0 && len(r) != MeasurementSize {
				return fmt.Errorf("policy: an RTMR is %d bytes, want %d or none", len(r), MeasurementSize)
			}
		}
	}
	for _, k := range p.Kinds {
		if k.Confidential() && !p.hasMeasurement(k) {
			return fmt.Errorf("policy: kind %s needs at least one accepted measurement", k)
		}
	}
	return nil
}

// Accepts reports whether the policy lists kind k.
func (p Policy) Accepts(k Kind) bool {
	for _, x := range p.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Confidential reports whether every kind the policy accepts is.
func (p Policy) Confidential() bool {
	for _, k := range p.Kinds {
		if !k.Confidential() {
			return false
		}
	}
	return len(p.Kinds) > 0
}

func (p Policy) hasMeasurement(k Kind) bool {
	for _, m := range p.Measurements {
		if m.Kind == k {
			return true
		}
	}
	return false
}

// Check decides whether verified evidence satisfies the policy.
func (p Policy) Check(v *Verified) error {
	if !p.Accepts(v.Kind) {
		return fmt.Errorf("%w: kind %s is not accepted", ErrPolicy, v.Kind)
	}
	if !v.Kind.Confidential() {
		return nil
	}
	if v.Debug && !p.AllowDebug {
		return fmt.Errorf("%w: the TEE is debuggable", ErrPolicy)
	}
	if p.RequireCollateral && !v.Collateral {
		return fmt.Errorf("%w: no collateral for %s on chain, the TCB is unknown", ErrCollateral, v.Platform)
	}
	for _, m := range p.Measurements {
		if m.Kind == v.Kind && m.matches(v) {
			return nil
		}
	}
	return fmt.Errorf("%w: measurement %s is not accepted", ErrPolicy, hex.EncodeToString(v.Measurement))
}

func (m Measurement) matches(v *Verified) bool {
	if !bytes.Equal(m.Value, v.Measurement) {
		return false
	}
	for i, r := range m.RTMRs {
		if len(r) > 0 && (i >= len(v.RTMRs) || !bytes.Equal(r, v.RTMRs[i])) {
			return false
		}
	}
	return true
}
