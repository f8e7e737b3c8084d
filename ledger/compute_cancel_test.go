package ledger

import (
	"strings"
	"testing"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/txerr"
)

// The requester cancels a job nobody claimed; nobody else can, nor can it
// cancel once a worker claimed, and a cancelled job takes no claim.
func TestComputeCancel(t *testing.T) {
	c := newConsortium(t)
	job := c.post(c.postArgs(compute.ModeAttested, 1, attest.KindSoftware))
	c.refuse(c.custodian, "cancel", compute.JobArgs{Job: job}, job, txerr.RoleDenied, "only the requester")
	c.refuse(c.admin2, "cancel", compute.JobArgs{Job: job}, job, txerr.RoleDenied, "only the requester")
	r := c.do(c.alice, "cancel", compute.JobArgs{Job: job}, txerr.OK)
	if ev := hasEvent(r.Events, "job_cancelled"); ev == nil || attr(ev, "confidentiality") == "" {
		t.Fatalf("events %+v", r.Events)
	}
	j := c.job(job)
	if j.State != compute.StateCancelled || !j.Terminal() || !strings.Contains(j.Reason, "refunded") {
		t.Fatalf("job %+v", j)
	}
	c.refuse(c.w2, "claim", compute.JobArgs{Job: job}, job, txerr.Rejected, "is cancelled")
	c.refuse(c.alice, "cancel", compute.JobArgs{Job: job}, job, txerr.Rejected, "cancelled already")
	// the deadline of a cancelled job does nothing
	c.idle(45)
	if got := c.job(job); got.State != compute.StateCancelled {
		t.Fatalf("after its deadline: %s", got.State)
	}

	claimed := c.post(c.postArgs(compute.ModeAttested, 1, attest.KindSoftware))
	c.do(c.w2, "claim", compute.JobArgs{Job: claimed}, txerr.OK)
	c.refuse(c.alice, "cancel", compute.JobArgs{Job: claimed}, claimed, txerr.Rejected, "claimed by 1 worker")
}

// A refused key release is on chain with its reason, from the requester's
// org only, bounded per job, and changes no claim.
func TestComputeDeny(t *testing.T) {
	c := newConsortium(t)
	job := c.post(c.postArgs(compute.ModeAttested, 1, attest.KindSoftware))
	c.do(c.w2, "claim", compute.JobArgs{Job: job}, txerr.OK)
	w2 := c.w2.Member.Fingerprint.String()
	deny := compute.DenyArgs{Job: job, Worker: w2, Reason: "the claim is claimed, keys are released once it is attested"}
	c.refuse(c.admin2, "deny", deny, job, txerr.RoleDenied, "requester's org")
	c.refuse(c.w2, "deny", deny, job, txerr.RoleDenied, "may not call")
	c.refuse(c.custodian, "deny", compute.DenyArgs{Job: job, Worker: w2}, job, txerr.BadArgs, "give a reason")
	r := c.do(c.custodian, "deny", deny, txerr.OK)
	ev := hasEvent(r.Events, "key_denied")
	if ev == nil || ev.To != "org2" || attr(ev, "reason") != deny.Reason {
		t.Fatalf("events %+v", r.Events)
	}
	j := c.job(job)
	last := j.History[len(j.History)-1]
	if j.Slots[0].State != compute.StateClaimed || last.Worker != w2 || !strings.Contains(last.Reason, "keys refused by node of org1: "+deny.Reason) {
		t.Fatalf("job %+v", j)
	}
	// a worker without a claim (another job's, another org's) is on record too
	stranger := compute.DenyArgs{Job: job, Worker: c.w3.Member.Fingerprint.String(), Reason: "holds no claim on this job"}
	if r := c.do(c.custodian, "deny", stranger, txerr.OK); hasEvent(r.Events, "key_denied").To != "" {
		t.Fatalf("a stranger's refusal addressed to %q", hasEvent(r.Events, "key_denied").To)
	}
	for range compute.MaxDenials - 2 {
		c.do(c.custodian, "deny", deny, txerr.OK)
	}
	c.refuse(c.custodian, "deny", deny, job, txerr.Rejected, "refusals on record already")
}
