// What other contracts and the node read of a job: its state, for vouchers
// that pay once a job is accepted (contract/paych), and the orgs its
// acceptance pays.

package compute

import (
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// JobState returns the state of the job with ID id (its posting
// transaction's ID, 64 lower-case hex digits) in st, this contract's
// state, or found false if there is none.
func JobState(st contract.State, id string) (state string, found bool, err error) {
	raw, err := st.Get(jobKey(id))
	if err != nil || raw == nil {
		return "", false, err
	}
	var j Job
	if err := canon.Unmarshal(raw, &j); err != nil {
		return "", false, txerr.New(txerr.Internal, "job record %s: %v", id, err)
	}
	return j.State, true, nil
}

// verdictAgrees is the verdict of a redundant job's worker that revealed
// the accepted result.
const verdictAgrees = "agrees with the majority"

// Jobs is the read of this contract's jobs that the payment-channel
// contract takes (paych.NewWithJobs): a voucher conditional on a job pays
// only once JobState says accepted.
type Jobs struct{}

// Contract names the contract whose state JobState reads.
func (Jobs) Contract() string { return Name }

// JobState is the package's JobState.
func (Jobs) JobState(st contract.State, job string) (string, bool, error) { return JobState(st, job) }

// Payees returns the orgs the job's acceptance owes its price to, each
// once, in slot order: the worker's org of an accepted attested job, the
// orgs of the workers that agreed with the majority of a redundant one.
// Before acceptance it returns none.
func (j *Job) Payees() []string {
	if j.State != StateAccepted || j.Result < 0 || j.Result >= len(j.Slots) {
		return nil
	}
	if !j.Redundant() {
		return []string{j.Slots[j.Result].Org}
	}
	var out []string
	for _, s := range j.Slots {
		if s.Verdict == verdictAgrees && !contains(out, s.Org) {
			out = append(out, s.Org)
		}
	}
	return out
}
