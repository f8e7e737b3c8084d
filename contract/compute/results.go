package compute

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// SubmitArgs submits a worker's encrypted result.
type SubmitArgs struct {
	Job  string `cbor:"job"`
	CID  string `cbor:"cid"`  // the output, encrypted to the job's result key
	Size uint64 `cbor:"size"` // plaintext bytes
	// Commitment is the output commitment (attested mode) or the commit
	// hash (redundant modes), 32 bytes.
	Commitment []byte `cbor:"commitment"`
	// Signature by the attested enclave key over the ResultStatement; none
	// when no key was attested (redundant mode).
	Signature []byte `cbor:"signature,omitempty"`
}

func (c *Contract) submit(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a SubmitArgs
	if err := contract.DecodeArgs("submit", raw, &a); err != nil {
		return nil, err
	}
	if !validCID(a.CID) {
		return nil, txerr.New(txerr.BadArgs, "submit: the result is not named by a canonical CID")
	}
	if err := need32("submit", "commitment", a.Commitment); err != nil {
		return nil, err
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	_, s := j.slotOf(ctx.Caller.Fingerprint)
	switch {
	case s == nil:
		return nil, rejected("submit", "%s holds no claim on job %s", ctx.Caller.ID, j.ID)
	case s.State != StateGranted:
		return nil, rejected("submit", "the claim is %s; a result follows the key release", s.State)
	case a.Size > j.Limits.OutputBytes:
		return nil, rejected("submit", "an output of %d bytes exceeds the job's limit of %d", a.Size, j.Limits.OutputBytes)
	}
	stmt := ResultStatement{Chain: ctx.Channel, Job: j.ID, Worker: ctx.Caller.Fingerprint[:], CID: a.CID, Size: a.Size, Commitment: a.Commitment}
	if err := checkEnclaveSig("submit", s, stmt.Digest(), a.Signature); err != nil {
		return nil, err
	}
	s.ResultCID, s.OutputSize, s.Commitment, s.State = a.CID, a.Size, a.Commitment, StateSubmitted
	j.record(ctx.Height, StateSubmitted, s.Worker, fmt.Sprintf("result %s, %d bytes", a.CID, a.Size))
	emit(ctx, "result_submitted", j.Org, j, contract.Attr{Key: "worker_org", Value: s.Org}, contract.Attr{Key: "cid", Value: a.CID})
	if err := c.resultsIn(ctx, st, j); err != nil {
		return nil, err
	}
	if err := save(st, j); err != nil {
		return nil, err
	}
	return contract.Result(map[string]any{"job": j.ID, "state": j.State, "window_end": j.WindowEnd})
}

// resultsIn opens the window once every slot has a result (or failed):
// the requester's time to object, or the workers' time to reveal.
func (c *Contract) resultsIn(ctx *contract.Context, st contract.State, j *Job) error {
	if len(j.Slots) < j.Replicas || j.WindowEnd != 0 {
		return nil
	}
	for _, s := range j.Slots {
		if rank(s.State) < rank(StateSubmitted) {
			return nil
		}
	}
	j.WindowEnd = ctx.Height + j.WindowBlocks
	if j.Redundant() && allRevealed(j) {
		return c.tally(ctx, j) // every slot failed: nothing to reveal
	}
	return schedule(st, j.WindowEnd, j.ID)
}

// RevealArgs reveals a redundant worker's output commitment.
type RevealArgs struct {
	Job    string `cbor:"job"`
	Output []byte `cbor:"output"` // the output commitment
	Nonce  []byte `cbor:"nonce"`
}

func (c *Contract) reveal(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a RevealArgs
	if err := contract.DecodeArgs("reveal", raw, &a); err != nil {
		return nil, err
	}
	if err := need32("reveal", "output commitment", a.Output); err != nil {
		return nil, err
	}
	if err := need32("reveal", "nonce", a.Nonce); err != nil {
		return nil, err
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	_, s := j.slotOf(ctx.Caller.Fingerprint)
	switch {
	case !j.Redundant():
		return nil, rejected("reveal", "job %s runs in %s mode, without reveals", j.ID, j.Mode)
	case j.Terminal():
		return nil, rejected("reveal", "job %s is %s", j.ID, j.State)
	case s == nil:
		return nil, rejected("reveal", "%s holds no claim on job %s", ctx.Caller.ID, j.ID)
	case s.State != StateSubmitted:
		return nil, rejected("reveal", "the claim is %s, not %s", s.State, StateSubmitted)
	case j.WindowEnd == 0:
		return nil, rejected("reveal", "reveals open once all %d workers committed", j.Replicas)
	case !bytes.Equal(CommitHash(j.ID, ctx.Caller.Fingerprint, a.Output, a.Nonce), s.Commitment):
		return nil, rejected("reveal", "the reveal does not match the worker's commitment")
	}
	s.Reveal, s.State = a.Output, SlotRevealed
	j.record(ctx.Height, StateSubmitted, s.Worker, "revealed")
	if allRevealed(j) {
		if err := c.tally(ctx, j); err != nil {
			return nil, err
		}
	}
	if err := save(st, j); err != nil {
		return nil, err
	}
	return contract.Result(map[string]any{"job": j.ID, "state": j.State})
}

func allRevealed(j *Job) bool {
	for _, s := range j.Slots {
		if s.State != SlotRevealed && s.State != SlotFailed {
			return false
		}
	}
	return true
}

// tally decides a redundant job: the output commitment revealed by more
// than half of its workers is accepted; the others are recorded as
// disagreeing, not revealing or failed. Without such a majority the job
// fails.
func (c *Contract) tally(ctx *contract.Context, j *Job) error {
	best, bestN := -1, 0
	for i, s := range j.Slots {
		if s.State != SlotRevealed {
			continue
		}
		n := 0
		for _, o := range j.Slots {
			if o.State == SlotRevealed && bytes.Equal(o.Reveal, s.Reveal) {
				n++
			}
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	majority := bestN*2 > j.Replicas
	var paid []string
	for i := range j.Slots {
		s := &j.Slots[i]
		switch {
		case s.State == SlotFailed:
		case s.State != SlotRevealed:
			s.Verdict = "did not reveal"
		case majority && bytes.Equal(s.Reveal, j.Slots[best].Reveal):
			s.Verdict = verdictAgrees
			paid = append(paid, s.Org)
		case majority:
			s.Verdict = "disagrees with the majority"
			emit(ctx, "worker_disagrees", j.Org, j, contract.Attr{Key: "worker", Value: s.Worker}, contract.Attr{Key: "worker_org", Value: s.Org})
		default:
			s.Verdict = "no majority"
		}
		if s.Verdict != "" && s.Verdict != verdictAgrees && s.Verdict != "no majority" {
			j.record(ctx.Height, StateSubmitted, s.Worker, s.Verdict)
		}
	}
	if !majority {
		return finish(ctx, j, StateFailed, fmt.Sprintf("no majority: at most %d of %d workers revealed the same result", bestN, j.Replicas))
	}
	j.Result = best
	return finish(ctx, j, StateAccepted, fmt.Sprintf("%d of %d workers agree; price %d to each of %s", bestN, j.Replicas, j.Price, strings.Join(paid, ", ")))
}

// finish ends a job.
func finish(ctx *contract.Context, j *Job, state, reason string) error {
	j.State, j.Reason = state, reason
	j.record(ctx.Height, state, "", reason)
	typ := map[string]string{StateAccepted: "job_accepted", StateExpired: "job_expired", StateFailed: "job_failed",
		StateCancelled: "job_cancelled"}[state]
	to := j.Org
	if state == StateAccepted {
		to = ""
	}
	emit(ctx, typ, to, j, contract.Attr{Key: "reason", Value: reason})
	return nil
}

// Failure reasons a worker reports. Withdrawn and input unavailable free
// the claim for another worker; the others are the program's and end an
// attested job (the enclave signs them).
const (
	FailWithdrawn        = "withdrawn"
	FailInputUnavailable = "input unavailable"
	FailProgramHash      = "program hash mismatch"
	FailMemory           = "memory limit exceeded"
	FailTime             = "time limit exceeded"
	FailOutput           = "output limit exceeded"
	FailTrap             = "program trapped"
	FailExit             = "program exited with an error"
)

// programFailures are the failures the program itself caused, which the
// attested enclave key must sign.
func programFailures() []string {
	return []string{FailProgramHash, FailMemory, FailTime, FailOutput, FailTrap, FailExit}
}

// FailArgs reports that a worker cannot produce a result.
type FailArgs struct {
	Job       string `cbor:"job"`
	Reason    string `cbor:"reason"`              // one of the Fail reasons
	Signature []byte `cbor:"signature,omitempty"` // over the FailStatement, by the attested enclave key
}

func (c *Contract) fail(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a FailArgs
	if err := contract.DecodeArgs("fail", raw, &a); err != nil {
		return nil, err
	}
	program := contains(programFailures(), a.Reason)
	if !program && a.Reason != FailWithdrawn && a.Reason != FailInputUnavailable {
		return nil, txerr.New(txerr.BadArgs, "fail: reason %q is not one of the failure reasons", a.Reason)
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	i, s := j.slotOf(ctx.Caller.Fingerprint)
	switch {
	case s == nil:
		return nil, rejected("fail", "%s holds no claim on job %s", ctx.Caller.ID, j.ID)
	case rank(s.State) >= rank(StateSubmitted):
		return nil, rejected("fail", "the claim is %s already", s.State)
	case program && s.State != StateGranted:
		return nil, rejected("fail", "the program runs once the keys are released; the claim is %s", s.State)
	}
	stmt := FailStatement{Chain: ctx.Channel, Job: j.ID, Worker: ctx.Caller.Fingerprint[:], Reason: a.Reason}
	if program {
		if err := checkEnclaveSig("fail", s, stmt.Digest(), a.Signature); err != nil {
			return nil, err
		}
	}
	switch {
	case !program:
		w := s.Worker
		j.Slots = append(j.Slots[:i], j.Slots[i+1:]...)
		j.record(ctx.Height, StatePosted, w, "claim given up: "+a.Reason)
	case j.Redundant():
		s.State, s.Verdict = SlotFailed, "failed: "+a.Reason
		j.record(ctx.Height, StateFailed, s.Worker, "the worker reports: "+a.Reason)
		if err := c.resultsIn(ctx, st, j); err != nil {
			return nil, err
		}
	default:
		s.State, s.Verdict = SlotFailed, "failed: "+a.Reason
		if err := finish(ctx, j, StateFailed, "the worker reports: "+a.Reason); err != nil {
			return nil, err
		}
	}
	if err := save(st, j); err != nil {
		return nil, err
	}
	return contract.Result(map[string]any{"job": j.ID, "state": j.State})
}

func (c *Contract) accept(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a JobArgs
	if err := contract.DecodeArgs("accept", raw, &a); err != nil {
		return nil, err
	}
	j, err := c.requesterJob(ctx, st, "accept", a.Job)
	if err != nil {
		return nil, err
	}
	j.Result = 0
	if err := finish(ctx, j, StateAccepted, fmt.Sprintf("accepted by the requester; price %d to %s", j.Price, j.Slots[0].Org)); err != nil {
		return nil, err
	}
	if err := save(st, j); err != nil {
		return nil, err
	}
	return contract.Result(map[string]any{"job": j.ID, "state": j.State})
}

// RejectArgs is the requester's objection to a result.
type RejectArgs struct {
	Job    string `cbor:"job"`
	Reason string `cbor:"reason"`
}

func (c *Contract) reject(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a RejectArgs
	if err := contract.DecodeArgs("reject", raw, &a); err != nil {
		return nil, err
	}
	if a.Reason == "" || len(a.Reason) > MaxReason || !utf8.ValidString(a.Reason) {
		return nil, txerr.New(txerr.BadArgs, "reject: give a reason of 1 to %d bytes of UTF-8", MaxReason)
	}
	j, err := c.requesterJob(ctx, st, "reject", a.Job)
	if err != nil {
		return nil, err
	}
	if err := finish(ctx, j, StateFailed, "rejected by the requester: "+a.Reason); err != nil {
		return nil, err
	}
	if err := save(st, j); err != nil {
		return nil, err
	}
	return contract.Result(map[string]any{"job": j.ID, "state": j.State})
}

// requesterJob loads an attested job whose result awaits its requester.
func (c *Contract) requesterJob(ctx *contract.Context, st contract.State, method, id string) (*Job, error) {
	j, err := loadJob(st, id)
	if err != nil {
		return nil, err
	}
	switch {
	case ctx.Caller.Fingerprint.String() != j.Requester:
		return nil, txerr.New(txerr.RoleDenied, "%s: only the requester decides on job %s", method, j.ID)
	case j.Redundant():
		return nil, rejected(method, "job %s is decided by its workers' majority", j.ID)
	case j.State != StateSubmitted:
		return nil, rejected(method, "job %s is %s, not %s", j.ID, j.State, StateSubmitted)
	}
	return j, nil
}
