package attest

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"

	"github.com/sealnet/sealnet/identity"
)

// verifySoftware checks that the enclave key signed the report data. That
// binds the key to the claim and proves its holder has it; it says nothing
// about the code or about who else can read the worker's memory.
func verifySoftware(ev *Evidence, b Binding, rd [64]byte) (*Verified, error) {
	pub, err := ParseKey(b.EnclaveKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBinding, err)
	}
	if err := identity.Verify(pub, softwareDigest(rd), ev.Sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return &Verified{Kind: KindSoftware, Platform: "software"}, nil
}

// Software is the development attester: the enclave key signs the report
// data. Evidence it makes is recorded as kind software and every output
// about the job says NOT CONFIDENTIAL.
type Software struct {
	Key *ecdsa.PrivateKey // the enclave key
}

// Kind implements Attester.
func (Software) Kind() Kind { return KindSoftware }

// Attest implements Attester.
func (s Software) Attest(b Binding) (*Evidence, error) {
	if !bytes.Equal(b.EnclaveKey, EncodeKey(&s.Key.PublicKey)) {
		return nil, fmt.Errorf("attest: binding names another enclave key")
	}
	sig, err := identity.Sign(s.Key, softwareDigest(b.ReportData()))
	if err != nil {
		return nil, err
	}
	return &Evidence{Kind: KindSoftware, Sig: sig}, nil
}
