// Package release seals a compute job's data keys to a worker's attested
// enclave key, the key release of paper 004 section 4.1 ("the remote
// party can share secrets ... encrypting them using the enclave's public
// key"), and opens them inside the enclave.
//
// The requester's custodian, which holds the data keys of the program and
// the inputs, checks on chain that the worker's claim is attested under
// the job's policy, builds a Bundle, seals it with HPKE (RFC 9180,
// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to the enclave key
// recorded on chain, hands the sealed bytes to the worker and records
// their hash (compute.GrantHash) with the contract's grant method. The
// HPKE info binds the chain, the job, the worker and the enclave key, so
// the bundle opens for that claim only. Only the enclave holds the
// private key; it lives as long as the enclave.
//
// The bundle also carries the job's output salt, which makes the
// commitment to the output unguessable for everyone but the requester and
// its workers.
package release

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/hpkep256"
	"github.com/sealnet/sealnet/seal"
)

// MaxSealed bounds a sealed bundle (64 inputs and the program).
const MaxSealed = 16 << 10

const infoDomain = "sealnet/compute/keys/v1\x00"

// Errors of Open.
var (
	ErrMalformed  = errors.New("sealed key bundle malformed")
	ErrNotForThis = errors.New("sealed key bundle is not for this claim or key")
)

// Key is one object's data key.
type Key struct {
	CID string       `cbor:"1,keyasint"`
	Key seal.DataKey `cbor:"2,keyasint"`
}

// Bundle is what the custodian releases to one worker's enclave.
type Bundle struct {
	Chain   string `cbor:"1,keyasint"`
	Job     string `cbor:"2,keyasint"`
	Worker  []byte `cbor:"3,keyasint"` // certificate fingerprint
	Program Key    `cbor:"4,keyasint"`
	Inputs  []Key  `cbor:"5,keyasint"` // in the job's order
	Salt    []byte `cbor:"6,keyasint"` // the job's output salt
}

// Claim names what a bundle is released to.
type Claim struct {
	Chain      string
	Job        string
	Worker     identity.Fingerprint
	EnclaveKey []byte // SEC1 uncompressed, as recorded on chain
}

func (c Claim) info() []byte {
	b := []byte(infoDomain)
	lp := func(s []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	lp([]byte(c.Chain))
	lp([]byte(c.Job))
	b = append(b, c.Worker[:]...)
	lp(c.EnclaveKey)
	return b
}

// NewSalt returns a job's output salt.
func NewSalt() ([]byte, error) {
	s := make([]byte, compute.SaltSize)
	_, err := rand.Read(s)
	return s, err
}

// Seal seals the bundle of job j's keys to the claim's enclave key and
// returns the sealed bytes and the grant hash to record on chain.
func Seal(c Claim, j *compute.Job, program Key, inputs []Key, salt []byte) (sealed, grant []byte, err error) {
	if program.CID != j.Program.CID || len(inputs) != len(j.Inputs) {
		return nil, nil, fmt.Errorf("release: the keys do not match the job's program and %d inputs", len(j.Inputs))
	}
	for i, k := range inputs {
		if k.CID != j.Inputs[i] {
			return nil, nil, fmt.Errorf("release: key %d is for %s, the job's input %d is %s", i, k.CID, i, j.Inputs[i])
		}
	}
	if len(salt) != compute.SaltSize {
		return nil, nil, fmt.Errorf("release: salt is %d bytes, want %d", len(salt), compute.SaltSize)
	}
	pub, err := attest.ParseKey(c.EnclaveKey)
	if err != nil {
		return nil, nil, err
	}
	b := Bundle{Chain: c.Chain, Job: c.Job, Worker: c.Worker[:], Program: program, Inputs: inputs, Salt: salt}
	sealed, err = hpkep256.Seal(pub, c.info(), canon.MustMarshal(b))
	if err != nil {
		return nil, nil, err
	}
	return sealed, compute.GrantHash(sealed), nil
}

// Open opens a sealed bundle inside the enclave that holds key, for the
// claim it expects.
func Open(key *ecdsa.PrivateKey, c Claim, sealed []byte) (*Bundle, error) {
	if len(sealed) > MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(sealed), MaxSealed)
	}
	if !bytes.Equal(c.EnclaveKey, attest.EncodeKey(&key.PublicKey)) {
		return nil, fmt.Errorf("%w: the claim names another enclave key", ErrNotForThis)
	}
	plain, err := hpkep256.Open(key, c.info(), sealed)
	if err != nil {
		return nil, ErrNotForThis
	}
	var b Bundle
	if err := canon.Unmarshal(plain, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if b.Chain != c.Chain || b.Job != c.Job || !bytes.Equal(b.Worker, c.Worker[:]) {
		return nil, fmt.Errorf("%w: the bundle names another claim", ErrNotForThis)
	}
	if len(b.Salt) != compute.SaltSize {
		return nil, fmt.Errorf("%w: salt of %d bytes", ErrMalformed, len(b.Salt))
	}
	return &b, nil
}
