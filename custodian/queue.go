// The approval queue: key requests waiting for the owner's decision under
// the approval policy, and the decisions taken, which the requester's next
// request for the same entry receives.

package custodian

import (
	"sort"
	"sync"
	"time"

	"github.com/sealnet/sealnet/txerr"
)

// Pending is a key request waiting for the owner's decision.
type Pending struct {
	Request
	Channel string
	Time    time.Time // when the requester signed it
}

// queue holds the pending requests by request ID and the owner's verdicts.
type queue struct {
	mu       sync.Mutex
	pending  map[string]Pending
	verdicts Approvals
}

func newQueue() *queue {
	return &queue{pending: map[string]Pending{}, verdicts: Approvals{}}
}

// decide runs decide against the verdicts so far and queues p when the
// verdict asks the owner, in one step, so that a decision between the two
// cannot be missed.
func (q *queue) decide(p Pending, decide func(Approvals) Verdict) Verdict {
	q.mu.Lock()
	defer q.mu.Unlock()
	v := decide(q.verdicts)
	if v.Ask {
		q.pending[p.ID] = p
	}
	return v
}

// list returns the pending requests, oldest first (by signing time, then
// request ID).
func (q *queue) list() []Pending {
	q.mu.Lock()
	out := make([]Pending, 0, len(q.pending))
	for _, p := range q.pending {
		out = append(out, p)
	}
	q.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// settle records the owner's verdict on pending request id and removes it
// from the queue.
func (q *queue) settle(id string, approve bool) (Pending, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := q.pending[id]
	if !ok {
		return p, txerr.New(txerr.NotFound, "no pending request %s", id)
	}
	delete(q.pending, id)
	q.verdicts[Approval{Requester: p.Requester.Fingerprint, TXNumber: p.TXNumber}] = approve
	return p, nil
}
