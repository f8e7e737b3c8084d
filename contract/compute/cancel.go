package compute

import (
	"fmt"
	"unicode/utf8"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// cancel ends a job nobody claimed yet, at its requester's request. Once a
// worker holds a claim it may already have spent work (or, attested, be
// waiting for the keys), so a claimed job runs to its deadline instead.
func (c *Contract) cancel(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a JobArgs
	if err := contract.DecodeArgs("cancel", raw, &a); err != nil {
		return nil, err
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	switch {
	case ctx.Caller.Fingerprint.String() != j.Requester:
		return nil, txerr.New(txerr.RoleDenied, "cancel: only the requester cancels job %s", j.ID)
	case j.Terminal():
		return nil, rejected("cancel", "job %s is %s already", j.ID, j.State)
	case len(j.Slots) > 0:
		return nil, rejected("cancel", "job %s is claimed by %d worker(s); a claimed job runs until its deadline at block %d", j.ID, len(j.Slots), j.Deadline)
	}
	if err := finish(ctx, j, StateCancelled, fmt.Sprintf("cancelled by the requester before any claim; price %d refunded", j.Price)); err != nil {
		return nil, err
	}
	if err := save(st, j); err != nil {
		return nil, err
	}
	return contract.Result(map[string]any{"job": j.ID, "state": j.State})
}

// DenyArgs records that the requester's custodian refused to release a
// job's keys to a worker, and why: the refusal is on chain like a release.
type DenyArgs struct {
	Job    string `cbor:"job"`
	Worker string `cbor:"worker"` // fingerprint, hex
	Reason string `cbor:"reason"`
}

// deny records a refused key release in the job's history. It changes no
// slot: the custodian's refusal is its own decision, and the contract
// only keeps it, at most MaxDenials per job so that nobody can grow a
// record by asking again and again.
func (c *Contract) deny(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a DenyArgs
	if err := contract.DecodeArgs("deny", raw, &a); err != nil {
		return nil, err
	}
	if a.Reason == "" || len(a.Reason) > MaxReason || !utf8.ValidString(a.Reason) {
		return nil, txerr.New(txerr.BadArgs, "deny: give a reason of 1 to %d bytes of UTF-8", MaxReason)
	}
	fp, err := identity.ParseFingerprint(a.Worker)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "deny: %v", err)
	}
	j, err := loadJob(st, a.Job)
	if err != nil {
		return nil, err
	}
	switch {
	case ctx.Caller.Org != j.Org:
		return nil, txerr.New(txerr.RoleDenied, "deny: only %s, the requester's org, decides on the keys of job %s", j.Org, j.ID)
	case j.Denials >= MaxDenials:
		return nil, rejected("deny", "job %s has %d refusals on record already", j.ID, j.Denials)
	}
	to := ""
	if _, s := j.slotOf(fp); s != nil {
		to = s.Org
	}
	j.Denials++
	j.record(ctx.Height, j.State, fp.String(), "keys refused by "+ctx.Caller.ID+" of "+ctx.Caller.Org+": "+a.Reason)
	if err := save(st, j); err != nil {
		return nil, err
	}
	emit(ctx, "key_denied", to, j, contract.Attr{Key: "worker", Value: fp.String()}, contract.Attr{Key: "reason", Value: a.Reason})
	return contract.Result(map[string]any{"job": j.ID, "worker": fp.String(), "denials": j.Denials})
}
