package custodian

import (
	"testing"
	"time"

	"github.com/sealnet/sealnet/txerr"
)

// The queue lists requests oldest first whatever the order they arrived
// in, and a verdict reaches the requester's next request for the entry.
func TestQueueOrderAndVerdicts(t *testing.T) {
	q := newQueue()
	t0 := time.Unix(1_700_000_000, 0)
	ask := func(Approvals) Verdict { return Verdict{Ask: true} }
	for _, p := range []Pending{
		{Request: Request{ID: "c", TXNumber: "t3", Requester: bob}, Time: t0.Add(2 * time.Second)},
		{Request: Request{ID: "b", TXNumber: "t2", Requester: bob}, Time: t0},
		{Request: Request{ID: "a", TXNumber: "t1", Requester: bob}, Time: t0},
		{Request: Request{ID: "d", TXNumber: "t4", Requester: bob}, Time: t0.Add(time.Second)},
	} {
		q.decide(p, ask)
	}
	for range 10 { // map order would show within a few listings
		var ids string
		for _, p := range q.list() {
			ids += p.ID
		}
		if ids != "abdc" {
			t.Fatalf("pending in order %q, want abdc", ids)
		}
	}
	if _, err := q.settle("b", false); err != nil {
		t.Fatal(err)
	}
	if _, err := q.settle("b", true); txerr.CodeOf(err) != txerr.NotFound {
		t.Fatalf("settled twice: %v", err)
	}
	var seen Approvals
	q.decide(Pending{Request: Request{ID: "e"}}, func(a Approvals) Verdict { seen = a; return Verdict{} })
	if v, ok := seen[Approval{Requester: bobFP, TXNumber: "t2"}]; !ok || v {
		t.Fatalf("verdicts %v", seen)
	}
	if len(q.list()) != 3 {
		t.Fatalf("a request that was not asked about was queued: %d pending", len(q.list()))
	}
}
