package compute

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// validCID accepts a CID in its canonical string form only, so one object
// has one name.
func validCID(s string) bool {
	c, err := cid.Decode(s)
	return err == nil && c.String() == s
}

func (a *PostArgs) validate() error {
	bad := func(format string, args ...any) error {
		return txerr.New(txerr.BadArgs, "post: "+format, args...)
	}
	if !validCID(a.Program.CID) || len(a.Program.SHA256) != 32 {
		return bad("the program needs a canonical CID and a 32-byte SHA-256")
	}
	if len(a.Inputs) > MaxInputs {
		return bad("%d inputs, at most %d", len(a.Inputs), MaxInputs)
	}
	for i, in := range a.Inputs {
		if !validCID(in) {
			return bad("input %d is not a canonical CID", i)
		}
		for _, o := range a.Inputs[:i] {
			if o == in {
				return bad("input %s named twice", in)
			}
		}
	}
	l := a.Limits
	if l.MemoryBytes < 64<<10 || l.MemoryBytes > 4<<30 || l.WallTimeMs == 0 || l.WallTimeMs > MaxWallTimeMs || l.OutputBytes == 0 || l.OutputBytes > MaxOutputBytes {
		return bad("limits: memory 64 KiB to 4 GiB, wall time 1 ms to 24 h, output 1 byte to 64 MiB")
	}
	switch a.Mode {
	case ModeAttested:
		if a.Replicas != 1 {
			return bad("attested mode runs on 1 worker")
		}
	case ModeRedundant, ModeAttestedRedundant:
		if a.Replicas < 2 || a.Replicas > MaxReplicas {
			return bad("redundant modes run on 2 to %d workers", MaxReplicas)
		}
	default:
		return bad("mode %q: want %s, %s or %s", a.Mode, ModeAttested, ModeRedundant, ModeAttestedRedundant)
	}
	if a.Mode == ModeRedundant {
		if len(a.TEE.Kinds) != 0 || len(a.TEE.Measurements) != 0 {
			return bad("redundant mode takes no TEE policy")
		}
	} else if err := a.TEE.Validate(); err != nil {
		return bad("%v", err)
	}
	if a.DeadlineBlocks < 1 || a.DeadlineBlocks > MaxBlocks || a.LeaseBlocks < 1 || a.LeaseBlocks > a.DeadlineBlocks ||
		a.WindowBlocks < 1 || a.WindowBlocks > MaxBlocks {
		return bad("deadline 1 to %d blocks, lease 1 block to the deadline, window 1 to %d blocks", MaxBlocks, MaxBlocks)
	}
	if len(a.Lenders) > MaxLenders {
		return bad("at most %d lending orgs", MaxLenders)
	}
	for i, o := range a.Lenders {
		if o == "" || len(o) > 64 || !utf8.ValidString(o) {
			return bad("lending org %d is not a name", i)
		}
		for _, p := range a.Lenders[:i] {
			if p == o {
				return bad("lending org %s named twice", o)
			}
		}
	}
	if _, err := attest.ParseKey(a.ResultKey); err != nil {
		return bad("result key: %v", err)
	}
	return nil
}

func (c *Contract) post(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a PostArgs
	if err := contract.DecodeArgs("post", raw, &a); err != nil {
		return nil, err
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	j := &Job{
		ID: hex.EncodeToString(ctx.TxID[:]), Requester: ctx.Caller.Fingerprint.String(), Org: ctx.Caller.Org,
		Program: a.Program, Inputs: a.Inputs, Limits: a.Limits, Mode: a.Mode, Replicas: a.Replicas, TEE: a.TEE,
		Price: a.Price, Lenders: a.Lenders, ResultKey: a.ResultKey, Confidentiality: confidentiality(a.Mode, a.TEE),
		Posted: ctx.Height, Deadline: ctx.Height + a.DeadlineBlocks, LeaseBlocks: a.LeaseBlocks, WindowBlocks: a.WindowBlocks,
		Slots: []Slot{}, Result: -1,
	}
	if j.Inputs == nil {
		j.Inputs = []string{}
	}
	j.record(ctx.Height, StatePosted, "", fmt.Sprintf("posted by %s of %s; expires at the end of block %d", ctx.Caller.ID, j.Org, j.Deadline))
	if err := save(st, j); err != nil {
		return nil, err
	}
	if err := schedule(st, j.Deadline, j.ID); err != nil {
		return nil, err
	}
	emit(ctx, "job_posted", "", j, contract.Attr{Key: "mode", Value: j.Mode}, contract.Attr{Key: "price", Value: fmt.Sprint(j.Price)},
		contract.Attr{Key: "deadline", Value: fmt.Sprint(j.Deadline)})
	return contract.Result(map[string]any{"job": j.ID, "deadline": j.Deadline, "confidentiality": j.Confidentiality})
}

// JobArgs names a job.
type JobArgs struct {
	Job string `cbor:"job"`
}

func (c *Contract) claim(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a JobArgs
	if err := contract.DecodeArgs("claim", raw, &a); err != nil {
		return nil, err
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	switch {
	case j.Terminal():
		return nil, rejected("claim", "job %s is %s", j.ID, j.State)
	case len(j.Slots) >= j.Replicas:
		return nil, rejected("claim", "job %s is claimed by all %d workers it needs", j.ID, j.Replicas)
	case ctx.Height >= j.Deadline:
		return nil, rejected("claim", "job %s expires at the end of this block", j.ID)
	case j.Claims >= MaxClaims:
		return nil, rejected("claim", "job %s was claimed %d times already", j.ID, j.Claims)
	}
	if len(j.Lenders) > 0 && !contains(j.Lenders, ctx.Caller.Org) {
		return nil, txerr.New(txerr.RoleDenied, "claim: org %s may not lend to job %s (lenders: %s)", ctx.Caller.Org, j.ID, strings.Join(j.Lenders, ", "))
	}
	if _, s := j.slotOf(ctx.Caller.Fingerprint); s != nil {
		return nil, rejected("claim", "%s holds a claim on job %s already", ctx.Caller.ID, j.ID)
	}
	for _, s := range j.Slots {
		if s.Org == ctx.Caller.Org {
			return nil, rejected("claim", "a worker of %s holds a claim on job %s already; its workers must be of distinct orgs", s.Org, j.ID)
		}
	}
	s := Slot{Worker: ctx.Caller.Fingerprint.String(), Org: ctx.Caller.Org, State: StateClaimed, Claimed: ctx.Height,
		LeaseEnd: min(ctx.Height+j.LeaseBlocks, j.Deadline)}
	j.Slots = append(j.Slots, s)
	j.Claims++
	j.record(ctx.Height, StateClaimed, s.Worker, fmt.Sprintf("claimed by %s of %s; lease to the end of block %d", ctx.Caller.ID, s.Org, s.LeaseEnd))
	if err := save(st, j); err != nil {
		return nil, err
	}
	if err := schedule(st, s.LeaseEnd, j.ID); err != nil {
		return nil, err
	}
	emit(ctx, "job_claimed", j.Org, j, contract.Attr{Key: "worker_org", Value: s.Org}, contract.Attr{Key: "lease_end", Value: fmt.Sprint(s.LeaseEnd)})
	return contract.Result(map[string]any{"job": j.ID, "claim_height": ctx.Height, "lease_end": s.LeaseEnd})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AttestArgs carries a worker's TEE evidence for its claim.
type AttestArgs struct {
	Job        string `cbor:"job"`
	EnclaveKey []byte `cbor:"enclave_key"` // P-256, SEC1 uncompressed
	Evidence   []byte `cbor:"evidence"`    // attest.Evidence, canonical CBOR
}

// attest verifies the caller's evidence against its claim: report data
// binding (chain, job, worker, enclave key, claim block), signature and
// chain to the pinned roots at the block time, the collateral this
// contract holds, then the job's policy. A refusal changes nothing.
func (c *Contract) attest(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a AttestArgs
	if err := contract.DecodeArgs("attest", raw, &a); err != nil {
		return nil, err
	}
	if _, err := attest.ParseKey(a.EnclaveKey); err != nil {
		return nil, txerr.New(txerr.BadArgs, "attest: %v", err)
	}
	ev, err := attest.DecodeEvidence(a.Evidence)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "attest: %v", err)
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	_, s := j.slotOf(ctx.Caller.Fingerprint)
	switch {
	case s == nil:
		return nil, rejected("attest", "%s holds no claim on job %s", ctx.Caller.ID, j.ID)
	case !j.Attested():
		return nil, rejected("attest", "job %s runs in %s mode, without attestation", j.ID, j.Mode)
	case s.State != StateClaimed:
		return nil, rejected("attest", "the claim is %s, not %s", s.State, StateClaimed)
	}
	b := attest.Binding{Chain: ctx.Channel, Job: j.ID, Worker: ctx.Caller.Fingerprint, EnclaveKey: a.EnclaveKey, ClaimHeight: s.Claimed}
	v, err := c.trust.Verify(ev, b, ctx.Time, stateCollateral{st})
	if err == nil {
		err = j.TEE.Check(v)
	}
	if err != nil {
		return nil, rejected("attest", "%v", err)
	}
	s.EnclaveKey = a.EnclaveKey
	s.Attestation = &Attestation{Kind: v.Kind, Measurement: hex.EncodeToString(v.Measurement), Platform: v.Platform, Debug: v.Debug,
		Collateral: v.Collateral, Roots: v.Roots, Height: ctx.Height}
	s.State = StateAttested
	what := fmt.Sprintf("%s attestation on %s", v.Kind, v.Platform)
	if !v.Kind.Confidential() {
		what += " (" + attest.NotConfidential + ")"
	} else if !v.Collateral {
		what += ", TCB not checked (no collateral on chain)"
	}
	j.record(ctx.Height, StateAttested, s.Worker, what)
	if err := save(st, j); err != nil {
		return nil, err
	}
	emit(ctx, "job_attested", j.Org, j, contract.Attr{Key: "worker_org", Value: s.Org}, contract.Attr{Key: "kind", Value: string(v.Kind)},
		contract.Attr{Key: "platform", Value: v.Platform})
	return contract.Result(s.Attestation)
}

// GrantArgs records that the requester's custodian released the job's data
// keys to a worker: the hash of the sealed bundle (GrantHash).
type GrantArgs struct {
	Job    string `cbor:"job"`
	Worker string `cbor:"worker"` // fingerprint, hex
	Grant  []byte `cbor:"grant"`
}

func (c *Contract) grant(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a GrantArgs
	if err := contract.DecodeArgs("grant", raw, &a); err != nil {
		return nil, err
	}
	if err := need32("grant", "grant hash", a.Grant); err != nil {
		return nil, err
	}
	fp, err := identity.ParseFingerprint(a.Worker)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "grant: %v", err)
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	if ctx.Caller.Org != j.Org {
		return nil, txerr.New(txerr.RoleDenied, "grant: only %s, the requester's org, releases the keys of job %s", j.Org, j.ID)
	}
	_, s := j.slotOf(fp)
	want := StateAttested
	if !j.Attested() {
		want = StateClaimed
	}
	switch {
	case j.Terminal():
		return nil, rejected("grant", "job %s is %s", j.ID, j.State)
	case s == nil:
		return nil, rejected("grant", "worker %s holds no claim on job %s", a.Worker, j.ID)
	case s.State != want:
		return nil, rejected("grant", "the worker's claim is %s, keys are released when it is %s", s.State, want)
	}
	s.Grant = a.Grant
	s.State = StateGranted
	j.record(ctx.Height, StateGranted, s.Worker, fmt.Sprintf("keys released by %s of %s", ctx.Caller.ID, ctx.Caller.Org))
	if err := save(st, j); err != nil {
		return nil, err
	}
	emit(ctx, "key_granted", s.Org, j, contract.Attr{Key: "worker", Value: s.Worker})
	return contract.Result(map[string]any{"job": j.ID, "worker": s.Worker})
}

// checkEnclaveSig verifies a statement signed by the slot's attested key.
func checkEnclaveSig(method string, s *Slot, digest, sig []byte) error {
	if s.EnclaveKey == nil {
		if sig != nil {
			return txerr.New(txerr.BadArgs, "%s: no enclave key was attested, the statement takes no signature", method)
		}
		return nil
	}
	pub, err := attest.ParseKey(s.EnclaveKey)
	if err != nil {
		return txerr.New(txerr.Internal, "%s: stored enclave key: %v", method, err)
	}
	if err := identity.Verify(pub, digest, sig); err != nil {
		return rejected(method, "the statement is not signed by the attested enclave key: %v", err)
	}
	return nil
}
