package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/release"
	"github.com/sealnet/sealnet/compute/result"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/wasmbuild"
	"github.com/sealnet/sealnet/sandbox"
	"github.com/sealnet/sealnet/seal"
)

var modules wasmbuild.Cache

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runner-test")
	if err != nil {
		panic(err)
	}
	modules.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// store is sealnet's store as the runner sees it: ciphertexts by name,
// each with its owner.
type store map[string][]byte

func (s store) fetch(owner *identity.Member) Fetch {
	return func(_ context.Context, cid string) (Object, error) {
		b, ok := s[cid]
		if !ok {
			return Object{}, errors.New("not stored")
		}
		return Object{Data: io.NopCloser(bytes.NewReader(b)), Owner: owner}, nil
	}
}

func put(t *testing.T, s store, name string, owner *identity.Identity, data []byte) release.Key {
	t.Helper()
	k, err := seal.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	w, err := seal.Encrypt(&ct, k, owner, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s[name] = ct.Bytes()
	return release.Key{CID: name, Key: k}
}

func newMember(t *testing.T, name string) *identity.Identity {
	t.Helper()
	ca, err := identity.NewCA("org1", time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.NewKey()
	csr, err := identity.NewCSR(key, name, "org1")
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(csr, identity.RoleClient, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, err := identity.ParseMember(der)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

type fixture struct {
	s       store
	owner   *identity.Identity
	task    Task
	resultK *identity.Identity
	rt      *sandbox.Runtime
}

// setup stores the stats program and two series, as the requester would
// with "data put", and releases their keys to an enclave.
func setup(t *testing.T, limits compute.Limits, mode string) *fixture {
	if testing.Short() {
		t.Skip("builds a WebAssembly module")
	}
	wasm, err := modules.Get(context.Background(), "./compute/programs/stats")
	if err != nil {
		t.Fatal(err)
	}
	owner := newMember(t, "alice")
	f := &fixture{s: store{}, owner: owner}
	prog := put(t, f.s, "program", owner, wasm)
	in0 := put(t, f.s, "in0", owner, []byte("1,2\n2,4\n3,4\n4,4\n"))
	in1 := put(t, f.s, "in1", owner, []byte("5,5\n6,5\n7,7\n8,9\n"))
	rk, _ := identity.NewKey()
	f.resultK = &identity.Identity{Key: rk}
	sum := sha256.Sum256(wasm)
	j := &compute.Job{ID: "6a6f62", Program: compute.Program{CID: "program", SHA256: sum[:]}, Inputs: []string{"in0", "in1"},
		Limits: limits, Mode: mode, ResultKey: attest.EncodeKey(&rk.PublicKey)}
	ek, _ := attest.NewEnclaveKey()
	claim := release.Claim{Chain: "plant", Job: j.ID, Worker: identity.Fingerprint{2}, EnclaveKey: attest.EncodeKey(&ek.PublicKey)}
	salt, _ := release.NewSalt()
	sealed, _, err := release.Seal(claim, j, prog, []release.Key{in0, in1}, salt)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := release.Open(ek, claim, sealed)
	if err != nil {
		t.Fatal(err)
	}
	f.task = Task{Chain: "plant", Job: j, Worker: claim.Worker, Key: ek, Bundle: bundle}
	f.rt, err = sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.rt.Close(context.Background()) })
	return f
}

var limits = compute.Limits{MemoryBytes: 256 << 20, WallTimeMs: 60_000, OutputBytes: 4096}

// From sealed inputs to a result the requester decrypts and checks.
func TestRunEndToEnd(t *testing.T) {
	f := setup(t, limits, compute.ModeAttested)
	o, err := Run(context.Background(), f.rt, f.task, f.s.fetch(f.owner.Member))
	if err != nil || o.Failure != nil {
		t.Fatalf("%v %+v %s", err, o.Failure, o.Stderr)
	}
	sub, err := o.Submit("resultcid")
	if err != nil {
		t.Fatal(err)
	}
	stmt := compute.ResultStatement{Chain: "plant", Job: "6a6f62", Worker: f.task.Worker[:], CID: "resultcid", Size: sub.Size, Commitment: sub.Commitment}
	if err := identity.Verify(&f.task.Key.PublicKey, stmt.Digest(), sub.Signature); err != nil {
		t.Fatal(err)
	}
	got, err := result.Open(bytes.NewReader(o.Ciphertext), f.resultK.Key, result.Binding{Chain: "plant", Job: "6a6f62", Worker: f.task.Worker},
		f.task.Bundle.Salt, sub.Commitment, limits.OutputBytes)
	if err != nil {
		t.Fatal(err)
	}
	want := "00 count=4 min=2.000 max=4.000 mean=3.500 stddev=0.866\n01 count=4 min=5.000 max=9.000 mean=6.500 stddev=1.658\nall count=8 min=2.000 max=9.000 mean=5.000 stddev=2.000\n"
	if string(got) != want {
		t.Fatalf("result %q", got)
	}
	if _, err := o.Reveal(); err == nil {
		t.Fatal("an attested job has nothing to reveal")
	}
}

func TestRunRedundantCommitsAndReveals(t *testing.T) {
	f := setup(t, limits, compute.ModeRedundant)
	o, err := Run(context.Background(), f.rt, f.task, f.s.fetch(f.owner.Member))
	if err != nil || o.Failure != nil {
		t.Fatal(err, o.Failure)
	}
	sub, _ := o.Submit("cid")
	rev, err := o.Reveal()
	if err != nil || sub.Signature != nil {
		t.Fatalf("%v, signature %x", err, sub.Signature)
	}
	if !bytes.Equal(compute.CommitHash("6a6f62", f.task.Worker, rev.Output, rev.Nonce), sub.Commitment) {
		t.Fatal("the reveal does not open the commitment")
	}
}

// Failures become signed failure statements with their reason, and
// nothing of the inputs reaches them.
func TestRunFailures(t *testing.T) {
	cases := []struct {
		name   string
		limits compute.Limits
		mod    func(*fixture)
		want   string
		signed bool
	}{
		{"program hash", limits, func(f *fixture) { f.task.Job.Program.SHA256[0] ^= 1 }, compute.FailProgramHash, true},
		{"memory", compute.Limits{MemoryBytes: 2 << 20, WallTimeMs: 60_000, OutputBytes: 4096}, nil, compute.FailMemory, true},
		{"output", compute.Limits{MemoryBytes: 256 << 20, WallTimeMs: 60_000, OutputBytes: 10}, nil, compute.FailOutput, true},
		{"bad input", limits, func(f *fixture) { f.s["in1"] = f.s["in0"] }, compute.FailInputUnavailable, false},
		{"another owner", limits, func(f *fixture) { f.owner = newMember(t, "mallory") }, compute.FailInputUnavailable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, tc.limits, compute.ModeAttested)
			if tc.mod != nil {
				tc.mod(f)
			}
			o, err := Run(context.Background(), f.rt, f.task, f.s.fetch(f.owner.Member))
			if err != nil {
				t.Fatal(err)
			}
			if o.Failure == nil || o.Failure.Reason != tc.want {
				t.Fatalf("failure %+v, want %q", o.Failure, tc.want)
			}
			if tc.signed {
				stmt := compute.FailStatement{Chain: "plant", Job: "6a6f62", Worker: f.task.Worker[:], Reason: tc.want}
				if err := identity.Verify(&f.task.Key.PublicKey, stmt.Digest(), o.Failure.Signature); err != nil {
					t.Fatal(err)
				}
			} else if o.Failure.Signature != nil {
				t.Fatal("an input failure signed")
			}
			if strings.Contains(o.Failure.Reason, "2.000") {
				t.Fatal("data in the reason")
			}
			if _, err := o.Submit("cid"); err == nil {
				t.Fatal("a failed run submitted")
			}
		})
	}
}
