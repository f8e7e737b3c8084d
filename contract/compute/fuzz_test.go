package compute

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
)

// memState is a contract.State in memory, iterated in key order.
type memState map[string][]byte

func (m memState) Get(k []byte) ([]byte, error) { return m[string(k)], nil }
func (m memState) Set(k, v []byte) error        { m[string(k)] = append([]byte(nil), v...); return nil }
func (m memState) Delete(k []byte) error        { delete(m, string(k)); return nil }
func (m memState) Iterate(prefix []byte, fn func(k, v []byte) bool) error {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !fn([]byte(k), m[k]) {
			break
		}
	}
	return nil
}

func (m memState) clone() memState {
	c := memState{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

var (
	t0        = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	requester = contract.Caller{ID: "alice", Org: "org1", Role: identity.RoleClient, Fingerprint: identity.Fingerprint{1}}
	worker    = contract.Caller{ID: "w", Org: "org2", Role: identity.RoleWorker, Fingerprint: identity.Fingerprint{2}}
)

func call(t testing.TB, c *Contract, st memState, method string, who contract.Caller, height int64, args []byte) ([]byte, error) {
	t.Helper()
	ctx := contract.NewContext(Name, who, "default", height, t0.Add(time.Duration(height)*time.Second), [32]byte{byte(height)}, nil)
	return c.Methods()[method].Run(ctx, st, args)
}

// granted is a state holding one attested (software) job whose keys were
// released to the worker, and the enclave key.
func granted(t testing.TB) (*Contract, memState, string, []byte) {
	t.Helper()
	c := NewWithTrust(attest.VendorTrust())
	st := memState{}
	rk, _ := identity.NewKey()
	post := PostArgs{Program: Program{CID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", SHA256: make([]byte, 32)}, Inputs: []string{},
		Limits: Limits{MemoryBytes: 1 << 20, WallTimeMs: 1000, OutputBytes: 100}, Mode: ModeAttested, Replicas: 1,
		TEE: attest.Policy{Kinds: []attest.Kind{attest.KindSoftware}}, DeadlineBlocks: 100, LeaseBlocks: 50, WindowBlocks: 5, ResultKey: attest.EncodeKey(&rk.PublicKey)}
	if _, err := call(t, c, st, "post", requester, 1, canon.MustMarshal(post)); err != nil {
		t.Fatal(err)
	}
	job := strings.Repeat("01", 1) + strings.Repeat("00", 31)
	if _, err := call(t, c, st, "claim", worker, 2, canon.MustMarshal(JobArgs{Job: job})); err != nil {
		t.Fatal(err)
	}
	ek, _ := attest.NewEnclaveKey()
	b := attest.Binding{Chain: "default", Job: job, Worker: worker.Fingerprint, EnclaveKey: attest.EncodeKey(&ek.PublicKey), ClaimHeight: 2}
	ev, _ := attest.Software{Key: ek}.Attest(b)
	if _, err := call(t, c, st, "attest", worker, 3, canon.MustMarshal(AttestArgs{Job: job, EnclaveKey: b.EnclaveKey, Evidence: ev.Encode()})); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, c, st, "grant", requester, 4, canon.MustMarshal(GrantArgs{Job: job, Worker: worker.Fingerprint.String(), Grant: make([]byte, 32)})); err != nil {
		t.Fatal(err)
	}
	return c, st, job, b.EnclaveKey
}

// FuzzWorkerCalls feeds arbitrary arguments to every method a worker
// calls on a job awaiting its result: nothing panics, and a refused call
// leaves the state as it was.
func FuzzWorkerCalls(f *testing.F) {
	c, st, job, _ := granted(f)
	f.Add(uint8(0), canon.MustMarshal(SubmitArgs{Job: job, CID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", Size: 3, Commitment: make([]byte, 32), Signature: make([]byte, 64)}))
	f.Add(uint8(1), canon.MustMarshal(RevealArgs{Job: job, Output: make([]byte, 32), Nonce: make([]byte, 32)}))
	f.Add(uint8(2), canon.MustMarshal(FailArgs{Job: job, Reason: FailTrap, Signature: make([]byte, 64)}))
	f.Add(uint8(3), canon.MustMarshal(AttestArgs{Job: job, EnclaveKey: make([]byte, 65), Evidence: []byte{0xa1}}))
	f.Add(uint8(4), canon.MustMarshal(CollateralArgs{SNP: &attest.SNPCollateral{ProductLine: "Milan", CRL: []byte{0x30}}}))
	methods := []string{"submit", "reveal", "fail", "attest", "collateral", "claim"}
	f.Fuzz(func(t *testing.T, m uint8, args []byte) {
		s := st.clone()
		_, err := call(t, c, s, methods[int(m)%len(methods)], worker, 5, args)
		if err != nil && len(s) != len(st) {
			t.Fatalf("a refused %s changed the state", methods[int(m)%len(methods)])
		}
		if err != nil {
			for k, v := range st {
				if !bytes.Equal(s[k], v) {
					t.Fatalf("a refused %s changed %q", methods[int(m)%len(methods)], k)
				}
			}
		}
	})
}

func TestUnsignedResultRefused(t *testing.T) {
	c, st, job, _ := granted(t)
	_, err := call(t, c, st, "submit", worker, 5, canon.MustMarshal(SubmitArgs{Job: job, CID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", Size: 3, Commitment: make([]byte, 32)}))
	if err == nil || !strings.Contains(err.Error(), "not signed by the attested enclave key") {
		t.Fatalf("unsigned result: %v", err)
	}
}

// The formats workers sign and hash are frozen (checked against an
// independent computation when they were written).
func TestFormatVectors(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 32)
	got := map[string][]byte{
		"output": OutputCommitment(salt, "job-1", []byte("count=8")),
		"commit": CommitHash("job-1", identity.Fingerprint{2}, bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 32)),
		"result": ResultStatement{Chain: "plant", Job: "job-1", Worker: make([]byte, 32), CID: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", Size: 7, Commitment: make([]byte, 32)}.Digest(),
		"fail":   FailStatement{Chain: "plant", Job: "job-1", Worker: make([]byte, 32), Reason: FailTrap}.Digest(),
		"grant":  GrantHash([]byte("sealed")),
	}
	want := map[string]string{
		"output": "f55f376117935a71d391fad481c506a3a7e7fafa4f6a318ea7dac4c296ba77b2",
		"commit": "346b70093acdca653c50f8b45fe888c77b9539c3dac8f3f2546e7c7c92fe0cd6",
		"result": "fea1facc1a8fdc946be7f829409cc3bca3218f8984c68504895e6e1920f4da27",
		"fail":   "df2ad6d2dcca050c32c0fa3f26acd071b8730d7d3eeddfb463311f10a3ca3811",
		"grant":  "fe7f1eb807b0607651ad106916a9ef8e7dce6c6cb005a3c74fa1fdb24bdeaa87",
	}
	for _, k := range []string{"output", "commit", "result", "fail", "grant"} {
		if h := hexOf(got[k]); h != want[k] {
			t.Errorf("%s: %s, want %s (a format change needs a new domain separator)", k, h, want[k])
		}
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
