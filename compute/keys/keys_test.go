package keys

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
)

func worker(t *testing.T) *identity.Identity {
	t.Helper()
	ca, err := identity.NewCA("org2", time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.NewKey()
	csr, _ := identity.NewCSR(key, "w1", "org2")
	der, err := ca.Issue(csr, identity.RoleWorker, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := identity.ParseMember(der)
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

func enclave(t *testing.T) []byte {
	k, err := attest.NewEnclaveKey()
	if err != nil {
		t.Fatal(err)
	}
	return attest.EncodeKey(&k.PublicKey)
}

// The custodian releases to the attested key of a claim of this job only,
// and says why it does not otherwise.
func TestDecide(t *testing.T) {
	w := worker(t)
	key, other := enclave(t), enclave(t)
	fp := w.Member.Fingerprint.String()
	job := func(mode, state string, slotKey []byte) *compute.Job {
		j := &compute.Job{ID: "j1", Org: "org1", Mode: mode, State: compute.StateClaimed}
		if state != "" {
			j.Slots = []compute.Slot{{Worker: fp, Org: "org2", State: state, EnclaveKey: slotKey}}
		}
		return j
	}
	req := &Request{Chain: "default", Job: "j1", Worker: w.Member.Fingerprint[:], EnclaveKey: key}
	cases := []struct {
		name string
		j    *compute.Job
		org  string
		want Verdict
	}{
		{"attested", job(compute.ModeAttested, compute.StateAttested, key), "org1", Verdict{Release: true, To: key}},
		{"asked again", job(compute.ModeAttested, compute.StateGranted, key), "org1", Verdict{Again: true, To: key}},
		{"not attested", job(compute.ModeAttested, compute.StateClaimed, nil), "org1", Verdict{Reason: "the claim is claimed; keys are released once it is attested", Record: true}},
		{"attested with another key (another job's)", job(compute.ModeAttested, compute.StateAttested, other), "org1", Verdict{Reason: "the enclave key is not the one attested for this claim", Record: true}},
		{"no claim (another job, a disallowed org)", job(compute.ModeAttested, "", nil), "org1", Verdict{Reason: "the worker holds no claim on this job", Record: true}},
		{"result in", job(compute.ModeAttestedRedundant, compute.StateSubmitted, key), "org1", Verdict{Reason: "the claim is result submitted: its keys were released already", Record: true}},
		{"another org's job", job(compute.ModeAttested, compute.StateAttested, key), "org3", Verdict{Reason: "job j1 is org1's: org1's custodian releases its keys"}},
		{"without a TEE: to the request's key", job(compute.ModeRedundant, compute.StateClaimed, nil), "org1", Verdict{Release: true, To: key}},
	}
	for _, c := range cases {
		got := Decide(c.j, c.org, req)
		if got.Release != c.want.Release || got.Again != c.want.Again || !bytes.Equal(got.To, c.want.To) || got.Reason != c.want.Reason || got.Record != c.want.Record {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	over := job(compute.ModeAttested, compute.StateAttested, key)
	over.State = compute.StateExpired
	if v := Decide(over, "org1", req); v.Release || !v.Record || v.Reason != "the job is expired" {
		t.Errorf("expired job: %+v", v)
	}
}

// A request opens only with its worker's signature, within the window;
// every byte changed is refused.
func TestRequestSignature(t *testing.T) {
	w := worker(t)
	now := time.Now()
	raw, err := NewRequest(w, "default", "j1", enclave(t), 7, now)
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(identity.Fingerprint) (*identity.Member, error) { return w.Member, nil }
	r, m, err := Open(raw, resolve, now, time.Minute)
	if err != nil || r.Job != "j1" || r.Height != 7 || m != w.Member {
		t.Fatalf("%+v %v", r, err)
	}
	if _, _, err := Open(raw, resolve, now.Add(2*time.Minute), time.Minute); err == nil || !strings.Contains(err.Error(), "time window") {
		t.Fatalf("stale: %v", err)
	}
	stranger := worker(t)
	if _, _, err := Open(raw, func(identity.Fingerprint) (*identity.Member, error) { return stranger.Member, nil }, now, time.Minute); err == nil {
		t.Fatal("opened with another certificate's key")
	}
	for i := range raw {
		alt := bytes.Clone(raw)
		alt[i] ^= 0x01
		if _, _, err := Open(alt, resolve, now, time.Minute); err == nil {
			t.Fatalf("byte %d altered: opened", i)
		}
	}
	var ans Answer
	if err := canon.Unmarshal(canon.MustMarshal(Answer{Denied: "x", DenyTx: "y"}), &ans); err != nil || ans.Denied != "x" {
		t.Fatal(err)
	}
}
