package compute

import (
	"slices"
	"testing"

	"github.com/sealnet/sealnet/canon"
)

func TestJobState(t *testing.T) {
	st := memState{}
	if _, found, err := JobState(st, "ab"); found || err != nil {
		t.Fatalf("no job: found %v, err %v", found, err)
	}
	j := &Job{ID: "ab", State: StateSubmitted, Slots: []Slot{}, Inputs: []string{}, Result: -1}
	st.Set(jobKey(j.ID), canon.MustMarshal(j))
	if s, found, err := (Jobs{}).JobState(st, "ab"); s != StateSubmitted || !found || err != nil {
		t.Fatalf("JobState = %q, %v, %v", s, found, err)
	}
	st.Set(jobKey("cd"), []byte{0xff})
	if _, _, err := JobState(st, "cd"); err == nil {
		t.Fatal("a corrupt record read without error")
	}
}

func TestPayees(t *testing.T) {
	attested := &Job{Mode: ModeAttested, State: StateAccepted, Result: 0, Slots: []Slot{{Org: "org2"}}}
	redundant := &Job{Mode: ModeRedundant, State: StateAccepted, Result: 0, Slots: []Slot{
		{Org: "org2", Verdict: verdictAgrees}, {Org: "org3", Verdict: "disagrees with the majority"}, {Org: "org4", Verdict: verdictAgrees}}}
	pending := &Job{Mode: ModeAttested, State: StateSubmitted, Result: -1, Slots: []Slot{{Org: "org2"}}}
	for _, c := range []struct {
		j    *Job
		want []string
	}{{attested, []string{"org2"}}, {redundant, []string{"org2", "org4"}}, {pending, nil}} {
		if got := c.j.Payees(); !slices.Equal(got, c.want) {
			t.Errorf("%s job in state %s: payees %v, want %v", c.j.Mode, c.j.State, got, c.want)
		}
	}
}
