// Package keys is paper 004's key release without a trusted broker: the
// messages a worker and the requester's custodian exchange, and the
// custodian's decision as a pure function of the job's record on chain.
//
// One release, for worker W of org b on job J of org a:
//
//  1. W's claim is on chain, and in an attested mode so is its enclave
//     key, verified by the contract from the TEE's evidence.
//  2. W signs a Request (chain, job, its certificate, the enclave key,
//     the time) with its certificate key and hands it to its own node
//     (POST /v1/channels/{ch}/compute/keys), naming a's custodian: the
//     node of the job's program's index entry.
//  3. b's node relays it over libp2p (Protocol) to a's node; both gates
//     admit enrolled members of a shared channel only.
//  4. a's custodian checks the signature against W's certificate on
//     chain and the time, reads the job's committed record and calls
//     Decide. On a release it seals the program's and the inputs' data
//     keys and the job's output salt to the enclave key recorded on
//     chain (compute/release), records SHA-256 of the sealed bytes with
//     compute.grant, and answers with them once that is committed. On a
//     refusal it records the reason with compute.deny and answers with
//     it.
//  5. W checks that the hash of what it got is the grant on chain, and
//     opens it inside the enclave.
//
// The relaying node sees only sealed bytes; the data keys are never on
// chain, in an event or in a log. A request that is stale, unsigned or
// from an unknown certificate gets an error and nothing on chain: only an
// authenticated worker's request earns a record.
package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
)

// Protocol is the libp2p protocol between the worker's node and the
// custodian's.
const Protocol = "/sealnet/compute/keys/1"

// MaxMessage bounds a request or an answer on the wire.
const MaxMessage = 32 << 10

const requestDomain = "sealnet/compute/keyreq/v1\x00"

// Errors of Open.
var (
	ErrMalformed = errors.New("key request malformed")
	ErrSignature = errors.New("key request signature does not verify")
	ErrStale     = errors.New("key request outside its time window")
)

// Request is a worker's request for a job's keys.
type Request struct {
	Chain      string `cbor:"1,keyasint"`
	Job        string `cbor:"2,keyasint"`
	Worker     []byte `cbor:"3,keyasint"` // certificate fingerprint
	EnclaveKey []byte `cbor:"4,keyasint"` // the attested key; without a TEE, the key to seal to
	Time       int64  `cbor:"5,keyasint"` // Unix nanoseconds
	// Height is the block that recorded the worker's attestation (its
	// claim, without a TEE): the custodian decides on a state at least as
	// recent, so that a request racing its own block is not refused.
	Height int64 `cbor:"6,keyasint"`
}

// Signed is a request and its worker's signature, as sent.
type Signed struct {
	Request   []byte `cbor:"1,keyasint"` // canonical CBOR of a Request
	Signature []byte `cbor:"2,keyasint"`
}

func digest(req []byte) []byte {
	d := sha256.Sum256(append([]byte(requestDomain), req...))
	return d[:]
}

// NewRequest signs a request as worker w for the enclave key on job,
// attested (or claimed) at height.
func NewRequest(w *identity.Identity, chain, job string, enclaveKey []byte, height int64, now time.Time) ([]byte, error) {
	r := Request{Chain: chain, Job: job, Worker: w.Member.Fingerprint[:], EnclaveKey: enclaveKey, Time: now.UnixNano(), Height: height}
	raw := canon.MustMarshal(r)
	sig, err := identity.Sign(w.Key, digest(raw))
	if err != nil {
		return nil, err
	}
	return canon.MustMarshal(Signed{Request: raw, Signature: sig}), nil
}

// Peek decodes a signed request without checking it (a relaying node
// reads the channel it names).
func Peek(b []byte) (*Request, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	var s Signed
	if err := canon.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var r Request
	if err := canon.Unmarshal(s.Request, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(r.Worker) != len(identity.Fingerprint{}) {
		return nil, fmt.Errorf("%w: worker fingerprint of %d bytes", ErrMalformed, len(r.Worker))
	}
	if _, err := attest.ParseKey(r.EnclaveKey); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &r, nil
}

// Open checks a signed request: its form, its signature by the key of
// the certificate it names (resolve returns the certificate enrolled on
// chain), and that it was made within tau of now.
func Open(b []byte, resolve func(identity.Fingerprint) (*identity.Member, error), now time.Time, tau time.Duration) (*Request, *identity.Member, error) {
	r, err := Peek(b)
	if err != nil {
		return nil, nil, err
	}
	var s Signed
	_ = canon.Unmarshal(b, &s) // Peek decoded it
	var fp identity.Fingerprint
	copy(fp[:], r.Worker)
	m, err := resolve(fp)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: worker certificate %s: %v", ErrSignature, fp, err)
	}
	pub, ok := m.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: certificate key is not P-256", ErrSignature)
	}
	if err := identity.Verify(pub, digest(s.Request), s.Signature); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if d := now.Sub(time.Unix(0, r.Time)); d > tau || d < -tau {
		return nil, nil, fmt.Errorf("%w: signed %s from the custodian's clock, window %s", ErrStale, d.Round(time.Millisecond), tau)
	}
	return r, m, nil
}

// Answer is the custodian's reply. Exactly one of Sealed, Denied and
// Retry is set.
type Answer struct {
	Sealed  []byte `cbor:"1,keyasint,omitempty"` // the sealed key bundle (compute/release)
	GrantTx string `cbor:"2,keyasint,omitempty"` // the compute.grant that records its hash
	Height  int64  `cbor:"3,keyasint,omitempty"` // its block
	Denied  string `cbor:"4,keyasint,omitempty"` // the refusal, as recorded on chain
	DenyTx  string `cbor:"5,keyasint,omitempty"` // the compute.deny that records it ("" if not recorded)
	Retry   string `cbor:"6,keyasint,omitempty"` // nothing decided yet, for this reason: ask again later
}

// Verdict is the custodian's decision on an authenticated request.
type Verdict struct {
	Release bool   // seal the keys to To and record the grant
	Again   bool   // the keys were released to this claim already: answer with the same sealed bytes
	To      []byte // the key to seal to
	Reason  string // a refusal
	Record  bool   // the refusal goes on chain (compute.deny)
}

func refuse(format string, args ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, args...), Record: true}
}

// Decide rules on request r for job j, as the custodian of org decides:
// keys go only to a claim of this job, attested with this very enclave
// key when the job is attested, and never twice to different keys. It
// reads nothing but its arguments.
func Decide(j *compute.Job, org string, r *Request) Verdict {
	if j.Org != org {
		return Verdict{Reason: fmt.Sprintf("job %s is %s's: %s's custodian releases its keys", j.ID, j.Org, j.Org)}
	}
	if j.Terminal() {
		return refuse("the job is %s", j.State)
	}
	var fp identity.Fingerprint
	copy(fp[:], r.Worker)
	var s *compute.Slot
	for i := range j.Slots {
		if j.Slots[i].Worker == fp.String() {
			s = &j.Slots[i]
		}
	}
	if s == nil {
		return refuse("the worker holds no claim on this job")
	}
	if !j.Attested() {
		switch s.State {
		case compute.StateClaimed:
			return Verdict{Release: true, To: r.EnclaveKey}
		case compute.StateGranted:
			return Verdict{Again: true, To: r.EnclaveKey}
		}
		return refuse("the claim is %s: its keys were released already", s.State)
	}
	switch {
	case s.State == compute.StateClaimed:
		return refuse("the claim is %s; keys are released once it is attested", s.State)
	case !bytes.Equal(s.EnclaveKey, r.EnclaveKey):
		return refuse("the enclave key is not the one attested for this claim")
	case s.State == compute.StateAttested:
		return Verdict{Release: true, To: s.EnclaveKey}
	case s.State == compute.StateGranted:
		return Verdict{Again: true, To: s.EnclaveKey}
	}
	return refuse("the claim is %s: its keys were released already", s.State)
}
