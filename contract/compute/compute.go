// Package compute is paper 004's compute marketplace contract: a requester
// posts a job (a WebAssembly program and encrypted inputs held in sealnet's
// store, limits, a price, deadlines), workers of the orgs allowed to lend
// claim it, prove what they run, receive the data keys and submit an
// encrypted result, and the chain records every step with its reason.
//
// # Jobs
//
// A job names its program by CID and SHA-256 (a module stored with "data
// put"), its inputs by CID, its limits (memory, wall time, output bytes),
// its verification mode, its TEE policy, its price, its deadline and
// lease in blocks, the orgs allowed to lend, and the P-256 key its result
// is encrypted to. Its ID is the posting transaction's ID.
//
// Modes:
//
//   - attested: one worker, whose enclave key is attested by TEE evidence
//     (attest.Verify, inside the contract, with the block time and the
//     collateral in this contract's state) before the requester's
//     custodian releases the keys to it; its result is signed by that key.
//   - redundant: k workers of k distinct orgs each compute, commit to their
//     output and then reveal; the value more than half of them revealed is
//     accepted and a worker that disagrees is recorded as such. Without a
//     TEE the workers see the data in clear.
//   - attested+redundant: both.
//
// # States
//
//	posted -> claimed -> attested -> key granted -> result submitted -> accepted
//	   ^         |           |            |                |
//	   +---------+-----------+------------+  a lease ends, or a worker withdraws
//	any state before a result: deadline -> expired (refunded)
//	program failure, requester's objection, no majority -> failed
//	posted without a claim: the requester's cancel -> cancelled
//
// A job with k slots is posted while a slot is free; otherwise its state is
// that of its least advanced slot. Every transition is kept in the job's
// history with its block and reason. Deadlines, leases and the windows
// after a result act at the end of the block they fall in (EndBlock),
// without anyone's transaction.
//
// # Confidentiality
//
// A job whose policy accepts software attestation, or that runs without a
// TEE, lets its workers see the data: every record and event about it says
// NOT CONFIDENTIAL.
//
// Inputs and outputs never reach the chain: it holds CIDs of ciphertexts,
// hashes of sealed key bundles, and salted commitments to outputs.
package compute

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "compute"

// Modes.
const (
	ModeAttested          = "attested"
	ModeRedundant         = "redundant"
	ModeAttestedRedundant = "attested+redundant"
)

// Job states.
const (
	StatePosted    = "posted"
	StateClaimed   = "claimed"
	StateAttested  = "attested"
	StateGranted   = "key granted"
	StateSubmitted = "result submitted"
	StateAccepted  = "accepted"
	StateExpired   = "expired"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Slot states beyond the job's.
const (
	SlotRevealed = "revealed"
	SlotFailed   = "failed"
)

// Bounds of a job.
const (
	MaxInputs      = 64
	MaxReplicas    = 7
	MaxLenders     = 16
	MaxClaims      = 32 // claims a job takes in its life; the history stays bounded
	MaxOutputBytes = 64 << 20
	MaxWallTimeMs  = 24 * 3600 * 1000
	MaxBlocks      = 1_000_000
	MaxReason      = 140
	MaxDenials     = 16 // refused key releases a job's history keeps
)

// Program names the job's WebAssembly module.
type Program struct {
	CID    string `cbor:"cid" json:"cid"`       // the stored (encrypted) module
	SHA256 []byte `cbor:"sha256" json:"sha256"` // of the module's plaintext bytes
}

// Limits bound one run of the program.
type Limits struct {
	MemoryBytes uint64 `cbor:"memory_bytes" json:"memory_bytes"`
	WallTimeMs  uint64 `cbor:"wall_time_ms" json:"wall_time_ms"`
	OutputBytes uint64 `cbor:"output_bytes" json:"output_bytes"`
}

// PostArgs posts a job.
type PostArgs struct {
	Program  Program       `cbor:"program"`
	Inputs   []string      `cbor:"inputs"`
	Limits   Limits        `cbor:"limits"`
	Mode     string        `cbor:"mode"`
	Replicas int           `cbor:"replicas"` // 1 in attested mode; 2 or more when redundant
	TEE      attest.Policy `cbor:"tee"`      // empty in redundant mode
	Price    uint64        `cbor:"price"`    // per worker, in the consortium's unit
	// DeadlineBlocks: the job expires at the end of block posted+this
	// unless a result was submitted by then.
	DeadlineBlocks int64 `cbor:"deadline_blocks"`
	// LeaseBlocks: a claim frees its slot at the end of block claim+this
	// unless the worker submitted by then.
	LeaseBlocks int64 `cbor:"lease_blocks"`
	// WindowBlocks: after a result, the requester's time to object
	// (attested) or the workers' time to reveal (redundant).
	WindowBlocks int64    `cbor:"window_blocks"`
	Lenders      []string `cbor:"lenders,omitempty"` // orgs allowed to lend workers; empty: any
	ResultKey    []byte   `cbor:"result_key"`        // P-256, SEC1 uncompressed
}

// Attestation is what the chain verified of a worker's TEE.
type Attestation struct {
	Kind        attest.Kind `cbor:"kind" json:"kind"`
	Measurement string      `cbor:"measurement,omitempty" json:"measurement,omitempty"` // hex
	Platform    string      `cbor:"platform" json:"platform"`
	Debug       bool        `cbor:"debug,omitempty" json:"debug,omitempty"`
	Collateral  bool        `cbor:"collateral,omitempty" json:"collateral,omitempty"`
	Roots       string      `cbor:"roots" json:"roots"`
	Height      int64       `cbor:"height" json:"height"`
}

// Slot is one worker's part of a job.
type Slot struct {
	Worker      string       `cbor:"worker" json:"worker"` // certificate fingerprint, hex
	Org         string       `cbor:"org" json:"org"`
	State       string       `cbor:"state" json:"state"`
	Claimed     int64        `cbor:"claimed" json:"claimed"` // block of the claim, bound into the evidence
	LeaseEnd    int64        `cbor:"lease_end" json:"lease_end"`
	EnclaveKey  []byte       `cbor:"enclave_key,omitempty" json:"enclave_key,omitempty"`
	Attestation *Attestation `cbor:"attestation,omitempty" json:"attestation,omitempty"`
	Grant       []byte       `cbor:"grant,omitempty" json:"grant,omitempty"` // GrantHash of the sealed keys
	ResultCID   string       `cbor:"result_cid,omitempty" json:"result_cid,omitempty"`
	OutputSize  uint64       `cbor:"output_size,omitempty" json:"output_size,omitempty"`
	Commitment  []byte       `cbor:"commitment,omitempty" json:"commitment,omitempty"` // output commitment, or commit hash when redundant
	Reveal      []byte       `cbor:"reveal,omitempty" json:"reveal,omitempty"`         // redundant: the output commitment revealed
	Verdict     string       `cbor:"verdict,omitempty" json:"verdict,omitempty"`
}

// Transition is one step of a job's history.
type Transition struct {
	Height int64  `cbor:"height" json:"height"`
	State  string `cbor:"state" json:"state"`
	Worker string `cbor:"worker,omitempty" json:"worker,omitempty"`
	Reason string `cbor:"reason" json:"reason"`
}

// Job is a job's record.
type Job struct {
	ID              string        `cbor:"id" json:"id"`
	Requester       string        `cbor:"requester" json:"requester"` // fingerprint, hex
	Org             string        `cbor:"org" json:"org"`
	Program         Program       `cbor:"program" json:"program"`
	Inputs          []string      `cbor:"inputs" json:"inputs"`
	Limits          Limits        `cbor:"limits" json:"limits"`
	Mode            string        `cbor:"mode" json:"mode"`
	Replicas        int           `cbor:"replicas" json:"replicas"`
	TEE             attest.Policy `cbor:"tee" json:"tee"`
	Price           uint64        `cbor:"price" json:"price"`
	Lenders         []string      `cbor:"lenders,omitempty" json:"lenders,omitempty"`
	ResultKey       []byte        `cbor:"result_key" json:"result_key"`
	Confidentiality string        `cbor:"confidentiality" json:"confidentiality"`
	Posted          int64         `cbor:"posted" json:"posted"`
	Deadline        int64         `cbor:"deadline" json:"deadline"`
	LeaseBlocks     int64         `cbor:"lease_blocks" json:"lease_blocks"`
	WindowBlocks    int64         `cbor:"window_blocks" json:"window_blocks"`
	WindowEnd       int64         `cbor:"window_end,omitempty" json:"window_end,omitempty"` // once all results are in
	State           string        `cbor:"state" json:"state"`
	Reason          string        `cbor:"reason" json:"reason"`
	Claims          int           `cbor:"claims" json:"claims"`
	Denials         int           `cbor:"denials,omitempty" json:"denials,omitempty"`
	Slots           []Slot        `cbor:"slots" json:"slots"`
	Result          int           `cbor:"result" json:"result"` // the accepted slot, -1 before
	History         []Transition  `cbor:"history" json:"history"`
}

// Attested reports whether the job's workers must attest.
func (j *Job) Attested() bool { return j.Mode != ModeRedundant }

// Redundant reports whether the job compares several workers' results.
func (j *Job) Redundant() bool { return j.Mode != ModeAttested }

// Terminal reports whether the job is over.
func (j *Job) Terminal() bool {
	return j.State == StateAccepted || j.State == StateExpired || j.State == StateFailed || j.State == StateCancelled
}

// confidentiality says who can see a job's data, for every record and
// event about it.
func confidentiality(mode string, p attest.Policy) string {
	switch {
	case mode == ModeRedundant:
		return attest.NotConfidential + ": redundant workers without a TEE see the data"
	case p.Accepts(attest.KindSoftware):
		return attest.NotConfidential + ": the policy accepts software attestation"
	}
	return "confidential: TEE workers only"
}

// Contract is the compute contract. It holds the roots TEE evidence must
// chain to; it has no other state outside the chain's.
type Contract struct {
	trust *attest.Trust
}

// New returns the contract trusting the vendors' roots.
func New() *Contract { return NewWithTrust(attest.VendorTrust()) }

// NewWithTrust returns the contract trusting the given roots (tests use
// go-sev-guest's test-only chain).
func NewWithTrust(t *attest.Trust) *Contract { return &Contract{trust: t} }

// Name implements contract.Contract.
func (c *Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c *Contract) Methods() map[string]contract.Method {
	requesters := []identity.Role{identity.RoleClient, identity.RoleAdmin, identity.RoleNode}
	workers := []identity.Role{identity.RoleWorker}
	return map[string]contract.Method{
		"post":       {Roles: requesters, Run: c.post},
		"claim":      {Roles: workers, Run: c.claim},
		"attest":     {Roles: workers, Run: c.attest},
		"grant":      {Roles: requesters, Run: c.grant},
		"submit":     {Roles: workers, Run: c.submit},
		"reveal":     {Roles: workers, Run: c.reveal},
		"fail":       {Roles: workers, Run: c.fail},
		"accept":     {Roles: requesters, Run: c.accept},
		"reject":     {Roles: requesters, Run: c.reject},
		"cancel":     {Roles: requesters, Run: c.cancel},
		"deny":       {Roles: requesters, Run: c.deny},
		"collateral": {Roles: []identity.Role{identity.RoleAdmin, identity.RoleNode, identity.RoleWorker}, Run: c.collateral},
	}
}

// Key layout: j/<id> job, o/<id> open jobs, t/<height>/<id> what is due at
// the end of a block, c/tdx/<fmspc> and c/snp/<product line> collateral.
const (
	pJob   = "j/"
	pOpen  = "o/"
	pTimer = "t/"
	pCol   = "c/"
)

func jobKey(id string) []byte  { return append(append([]byte{}, pJob...), id...) }
func openKey(id string) []byte { return append(append([]byte{}, pOpen...), id...) }
func timerKey(height int64, id string) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte{}, pTimer...), uint64(height))
	return append(append(k, '/'), id...)
}

func loadJob(st contract.State, id string) (*Job, error) {
	raw, err := st.Get(jobKey(id))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, txerr.New(txerr.NotFound, "no job %q", id)
	}
	var j Job
	if err := canon.Unmarshal(raw, &j); err != nil {
		return nil, txerr.New(txerr.Internal, "job record %s: %v", id, err)
	}
	return &j, nil
}

// save writes the job, recomputing its state from its slots unless it is
// over, and keeps the open-jobs index in step.
func save(st contract.State, j *Job) error {
	if !j.Terminal() {
		j.State = aggregate(j)
	}
	if err := st.Set(jobKey(j.ID), canon.MustMarshal(j)); err != nil {
		return err
	}
	if j.State == StatePosted {
		return st.Set(openKey(j.ID), []byte{1})
	}
	return st.Delete(openKey(j.ID))
}

// slotOrder ranks slot states; a job is as far as its least advanced slot.
func slotOrder() []string {
	return []string{StateClaimed, StateAttested, StateGranted, StateSubmitted, SlotRevealed}
}

func rank(s string) int {
	for i, x := range slotOrder() {
		if x == s {
			return i
		}
	}
	return len(slotOrder()) // failed: done
}

func aggregate(j *Job) string {
	if len(j.Slots) < j.Replicas {
		return StatePosted
	}
	least := len(slotOrder())
	for _, s := range j.Slots {
		least = min(least, rank(s.State))
	}
	if least >= rank(StateSubmitted) {
		return StateSubmitted
	}
	return slotOrder()[least]
}

func schedule(st contract.State, height int64, id string) error {
	return st.Set(timerKey(height, id), []byte{1})
}

// record appends a transition to the history.
func (j *Job) record(height int64, state, worker, reason string) {
	j.History = append(j.History, Transition{Height: height, State: state, Worker: worker, Reason: reason})
}

// emit sends an event about j; every one says who can see the job's data.
func emit(ctx *contract.Context, typ, to string, j *Job, attrs ...contract.Attr) {
	all := append([]contract.Attr{{Key: "job", Value: j.ID}}, attrs...)
	all = append(all, contract.Attr{Key: "confidentiality", Value: j.Confidentiality})
	ctx.Emit(typ, to, all...)
}

func (j *Job) slotOf(fp identity.Fingerprint) (int, *Slot) {
	w := fp.String()
	for i := range j.Slots {
		if j.Slots[i].Worker == w {
			return i, &j.Slots[i]
		}
	}
	return -1, nil
}

func decodeHex32(what, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, txerr.New(txerr.BadArgs, "%s: want 64 hex digits", what)
	}
	return b, nil
}

func need32(method, what string, b []byte) error {
	if len(b) != 32 {
		return txerr.New(txerr.BadArgs, "%s: %s is %d bytes, want 32", method, what, len(b))
	}
	return nil
}

func rejected(method, format string, args ...any) error {
	return txerr.New(txerr.Rejected, "%s: %s", method, fmt.Sprintf(format, args...))
}
