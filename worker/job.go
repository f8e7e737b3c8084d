// One job's life in the worker: claim, attest, key release, run, submit,
// reveal, and the chain's verdict.

package worker

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/compute/keys"
	"github.com/sealnet/sealnet/compute/release"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/contract/compute"
)

// errGiveUp ends a job's handling after its reason was reported.
var errGiveUp = errors.New("given up")

func (w *Worker) work(ctx context.Context, j *compute.Job) {
	start := time.Now()
	r := Result{Job: j.ID}
	outcome, err := w.run(ctx, j)
	switch {
	case err == nil:
		r.Outcome = outcome
	case errors.Is(err, errGiveUp):
		r.Outcome = outcome
	default:
		r.Outcome = "error: " + err.Error()
		w.say(j, "stopped: %v", err)
	}
	r.Elapsed = time.Since(start)
	if outcome == "submitted" {
		r.Verdict = w.verdict(ctx, j)
	}
	w.release(j, r)
}

// run takes j from the claim to the submitted result and returns the
// outcome.
func (w *Worker) run(ctx context.Context, j *compute.Job) (string, error) {
	me := w.cfg.Identity.Member.Fingerprint.String()
	claim, err := w.call(ctx, "claim", compute.JobArgs{Job: j.ID})
	if err != nil {
		w.say(j, "claim refused: %v", err)
		return "refused: " + err.Error(), errGiveUp
	}
	var claimed struct {
		Height   int64 `json:"claim_height"`
		LeaseEnd int64 `json:"lease_end"`
	}
	decodeResult(claim, &claimed)
	w.say(j, "claimed in block %d (tx %s), %s mode, price %d, lease to block %d", claimed.Height, short(claim.TxID), j.Mode, j.Price, claimed.LeaseEnd)

	key, err := attest.NewEnclaveKey()
	if err != nil {
		return "", err
	}
	pub := attest.EncodeKey(&key.PublicKey)
	height := claimed.Height
	if j.Attested() {
		var out string
		if height, out, err = w.attest(ctx, j, key, claimed.Height); err != nil {
			return w.withdraw(ctx, j, out, err)
		}
	}
	bundle, out, err := w.keys(ctx, j, key, pub, height)
	if err != nil {
		return w.withdraw(ctx, j, out, err)
	}
	task := runner.Task{Chain: w.cfg.Channel, Job: j, Worker: w.cfg.Identity.Member.Fingerprint, Key: key, Bundle: bundle}
	w.cores <- struct{}{}
	runStart := time.Now()
	o, err := runner.Do(ctx, task, w.fetch(j.Org), w.cfg.Executor)
	<-w.cores
	if err != nil {
		return w.withdraw(ctx, j, "run", err)
	}
	if len(o.Stderr) > 0 {
		// the program's diagnostics may hold input data: the local log at debug level only
		w.cfg.Log.Debug("program stderr", "job", j.ID, "stderr", string(o.Stderr))
	}
	if o.Failure != nil {
		if _, err := w.call(ctx, "fail", o.Failure); err != nil {
			w.say(j, "reporting the failure refused: %v", err)
		}
		w.say(j, "the program failed: %s (reported on chain, signed by the enclave key)", o.Failure.Reason)
		return "failed: " + o.Failure.Reason, errGiveUp
	}
	stored, err := w.cfg.Client.StorePut(ctx, w.cfg.Channel, bytes.NewReader(o.Ciphertext))
	if err != nil {
		return w.withdraw(ctx, j, "store the result", err)
	}
	sub, err := o.Submit(stored.CID)
	if err != nil {
		return "", err
	}
	r, err := w.call(ctx, "submit", sub)
	if err != nil {
		w.say(j, "result refused: %v", err)
		return "refused: " + err.Error(), errGiveUp
	}
	w.say(j, "ran in %s; result %s (%d bytes encrypted to the requester's result key) submitted in block %d (tx %s), commitment %x",
		time.Since(runStart).Round(time.Millisecond), stored.CID, len(o.Ciphertext), r.Height, short(r.TxID), sub.Commitment[:8])
	if !j.Redundant() {
		return "submitted", nil
	}
	// reveal once every worker committed
	j2, err := w.until(ctx, j.ID, func(x *compute.Job) bool { return x.WindowEnd != 0 || x.Terminal() })
	if err != nil {
		return "", err
	}
	if j2.Terminal() {
		return "submitted", nil
	}
	var s slotView
	if !s.find(j2, me) || s.State != compute.StateSubmitted {
		return "submitted", nil
	}
	rev, err := o.Reveal()
	if err != nil {
		return "", err
	}
	rr, err := w.call(ctx, "reveal", rev)
	if err != nil {
		w.say(j, "reveal refused: %v", err)
		return "submitted", nil
	}
	w.say(j, "revealed its output commitment %x in block %d (tx %s)", rev.Output[:8], rr.Height, short(rr.TxID))
	return "submitted", nil
}

// attest proves the enclave key to the chain and returns the block that
// recorded it, or the step that failed with the error.
func (w *Worker) attest(ctx context.Context, j *compute.Job, key *ecdsa.PrivateKey, claimHeight int64) (int64, string, error) {
	b := attest.Binding{Chain: w.cfg.Channel, Job: j.ID, Worker: w.cfg.Identity.Member.Fingerprint, EnclaveKey: attest.EncodeKey(&key.PublicKey), ClaimHeight: claimHeight}
	att := w.cfg.Attester(key)
	ev, err := att.Attest(b)
	if err != nil {
		return 0, "attest", err
	}
	r, err := w.call(ctx, "attest", compute.AttestArgs{Job: j.ID, EnclaveKey: b.EnclaveKey, Evidence: ev.Encode()})
	if err != nil {
		return 0, "attestation", err
	}
	var a compute.Attestation
	decodeResult(r, &a)
	what := fmt.Sprintf("%s evidence on %s", a.Kind, a.Platform)
	if !a.Kind.Confidential() {
		what += ", which protects nothing from this machine's owner"
	}
	w.say(j, "attested in block %d (tx %s): %s", r.Height, short(r.TxID), what)
	return r.Height, "", nil
}

// keys asks the requester's custodian for the job's keys until it
// releases or refuses them, checks the release against the grant on
// chain and opens it with the enclave key.
func (w *Worker) keys(ctx context.Context, j *compute.Job, key *ecdsa.PrivateKey, pub []byte, height int64) (*release.Bundle, string, error) {
	e, err := w.entry(ctx, j.Program.CID, j.Org)
	if err != nil {
		return nil, "find the custodian", err
	}
	var ans keys.Answer
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		req, err := keys.NewRequest(w.cfg.Identity, w.cfg.Channel, j.ID, pub, height, time.Now())
		if err != nil {
			return nil, "key request", err
		}
		raw, err := w.cfg.Client.RequestComputeKeys(ctx, w.cfg.Channel, e.Custodian, req)
		if err != nil {
			return nil, "key request", err
		}
		ans = keys.Answer{}
		if err := canon.Unmarshal(raw, &ans); err != nil {
			return nil, "key request", fmt.Errorf("the custodian's answer: %w", err)
		}
		if ans.Retry == "" {
			break
		}
		w.say(j, "keys not released yet: %s; asking again in %s", ans.Retry, wait)
		select {
		case <-ctx.Done():
			return nil, "key request", ctx.Err()
		case <-time.After(wait):
		}
	}
	if ans.Denied != "" {
		rec := "not recorded"
		if ans.DenyTx != "" {
			rec = "recorded on chain in tx " + short(ans.DenyTx)
		}
		return nil, "key release", fmt.Errorf("the custodian refused: %s (%s)", ans.Denied, rec)
	}
	// the release must be the one on chain
	me := w.cfg.Identity.Member.Fingerprint.String()
	grant := compute.GrantHash(ans.Sealed)
	j2, err := w.until(ctx, j.ID, func(x *compute.Job) bool {
		var s slotView
		return x.Terminal() || s.find(x, me) && s.Grant != nil
	})
	if err != nil {
		return nil, "key release", err
	}
	var s slotView
	if !s.find(j2, me) || !bytes.Equal(s.Grant, grant) {
		return nil, "key release", errors.New("the sealed keys do not hash to the grant recorded on chain")
	}
	b, err := release.Open(key, release.Claim{Chain: w.cfg.Channel, Job: j.ID, Worker: w.cfg.Identity.Member.Fingerprint, EnclaveKey: pub}, ans.Sealed)
	if err != nil {
		return nil, "key release", err
	}
	w.say(j, "keys released by the custodian %s, sealed to the enclave key; grant %x recorded in block %d (tx %s)",
		short(e.Custodian), grant[:8], ans.Height, short(ans.GrantTx))
	return b, "", nil
}

// withdraw gives the claim up after step failed, so another worker can
// take it.
func (w *Worker) withdraw(ctx context.Context, j *compute.Job, step string, cause error) (string, error) {
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	reason := compute.FailWithdrawn
	w.say(j, "%s failed: %v; giving the claim up", step, cause)
	if _, err := w.call(ctx, "fail", compute.FailArgs{Job: j.ID, Reason: reason}); err != nil {
		w.say(j, "giving the claim up refused: %v", err)
	}
	return "withdrawn: " + step + ": " + cause.Error(), errGiveUp
}

// verdict waits (up to the job's window and a little more) for the end
// of the job and reports what the chain decided about this worker.
func (w *Worker) verdict(ctx context.Context, j *compute.Job) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	j2, err := w.until(ctx, j.ID, func(x *compute.Job) bool { return x.Terminal() })
	if err != nil {
		return "unknown: " + err.Error()
	}
	var s slotView
	v := j2.State + ": " + j2.Reason
	if s.find(j2, w.cfg.Identity.Member.Fingerprint.String()) && s.Verdict != "" {
		v = j2.State + "; this worker " + s.Verdict
	}
	w.say(j2, "job %s", v)
	return v
}
