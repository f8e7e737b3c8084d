package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sealnet/sealnet/identity"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func enclaveKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := NewEnclaveKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func binding(key *ecdsa.PrivateKey) Binding {
	return Binding{Chain: "plant", Job: "4a6f62", Worker: identity.Fingerprint{7}, EnclaveKey: EncodeKey(&key.PublicKey), ClaimHeight: 42}
}

// The report data is frozen: workers and chains must compute the same.
func TestReportDataVector(t *testing.T) {
	key := bytes.Repeat([]byte{4}, 65)
	b := Binding{Chain: "plant", Job: "job-1", Worker: identity.Fingerprint{1, 2, 3}, EnclaveKey: key, ClaimHeight: 1234}
	rd := b.ReportData()
	const want = "7db424a88cf498f207b54fd7d7e6b5e7ef708c124c5a07f65bbd7e50f2e24e6b0a40948dc35855d17759ea9251d457797df1b9823fd94ca79c000447e06ed8cf"
	if got := hex.EncodeToString(rd[:]); got != want {
		t.Fatalf("report data %s, want %s (a format change needs a new domain separator)", got, want)
	}
	// every field changes it
	for i, o := range []Binding{
		{Chain: "plant2", Job: b.Job, Worker: b.Worker, EnclaveKey: key, ClaimHeight: 1234},
		{Chain: b.Chain, Job: "job-2", Worker: b.Worker, EnclaveKey: key, ClaimHeight: 1234},
		{Chain: b.Chain, Job: b.Job, Worker: identity.Fingerprint{9}, EnclaveKey: key, ClaimHeight: 1234},
		{Chain: b.Chain, Job: b.Job, Worker: b.Worker, EnclaveKey: key[:64], ClaimHeight: 1234},
		{Chain: b.Chain, Job: b.Job, Worker: b.Worker, EnclaveKey: key, ClaimHeight: 1235},
		{Chain: "plantj", Job: "ob-1", Worker: b.Worker, EnclaveKey: key, ClaimHeight: 1234},
	} {
		if o.ReportData() == rd {
			t.Errorf("binding %d has the same report data", i)
		}
	}
}

func TestDecodeEvidence(t *testing.T) {
	good := []*Evidence{
		{Kind: KindTDX, Quote: []byte{1}},
		{Kind: KindSNP, Quote: []byte{1}, Cert: []byte{2}},
		{Kind: KindSoftware, Sig: make([]byte, 64)},
	}
	for _, e := range good {
		got, err := DecodeEvidence(e.Encode())
		if err != nil || got.Kind != e.Kind {
			t.Errorf("%s: %v", e.Kind, err)
		}
	}
	bad := []*Evidence{
		{Kind: "sgx", Quote: []byte{1}},
		{Kind: KindTDX},
		{Kind: KindTDX, Quote: []byte{1}, Sig: make([]byte, 64)},
		{Kind: KindSNP, Quote: []byte{1}},
		{Kind: KindSoftware, Sig: make([]byte, 63)},
		{Kind: KindSoftware, Quote: []byte{1}, Sig: make([]byte, 64)},
	}
	for _, e := range bad {
		if _, err := DecodeEvidence(e.Encode()); err == nil {
			t.Errorf("accepted %+v", e)
		}
	}
	if _, err := DecodeEvidence(append(good[0].Encode(), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
	if _, err := DecodeEvidence(make([]byte, MaxEvidence+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized: %v", err)
	}
}

func TestSoftwareEvidence(t *testing.T) {
	key := enclaveKey(t)
	b := binding(key)
	ev, err := Software{Key: key}.Attest(b)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = DecodeEvidence(ev.Encode())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := VendorTrust().Verify(ev, b, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != KindSoftware || v.Kind.Confidential() {
		t.Fatalf("verified %+v", v)
	}
	other := b
	other.Job = "another"
	if _, err := VendorTrust().Verify(ev, other, now, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("evidence for another job: %v", err)
	}
	other = b
	other.EnclaveKey = EncodeKey(&enclaveKey(t).PublicKey)
	if _, err := VendorTrust().Verify(ev, other, now, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("evidence with another key: %v", err)
	}
	if _, err := (Software{Key: key}).Attest(other); err == nil {
		t.Fatal("attested a binding naming another key")
	}
	if err := (Policy{Kinds: []Kind{KindSNP}, Measurements: []Measurement{{Kind: KindSNP, Value: make([]byte, 48)}}}).Check(v); !errors.Is(err, ErrPolicy) {
		t.Fatalf("a TEE-only policy accepted software: %v", err)
	}
	if err := (Policy{Kinds: []Kind{KindSoftware}}).Check(v); err != nil {
		t.Fatalf("a policy accepting software refused it: %v", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	m48 := make([]byte, 48)
	ok := []Policy{
		{Kinds: []Kind{KindSoftware}},
		{Kinds: []Kind{KindTDX, KindSNP}, Measurements: []Measurement{{Kind: KindTDX, Value: m48, RTMRs: [][]byte{nil, m48}}, {Kind: KindSNP, Value: m48}}},
	}
	for _, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := []Policy{
		{},
		{Kinds: []Kind{"sgx"}},
		{Kinds: []Kind{KindSoftware, KindSoftware}},
		{Kinds: []Kind{KindTDX}},
		{Kinds: []Kind{KindTDX}, Measurements: []Measurement{{Kind: KindTDX, Value: m48[:32]}}},
		{Kinds: []Kind{KindTDX}, Measurements: []Measurement{{Kind: KindSNP, Value: m48}}},
		{Kinds: []Kind{KindSNP}, Measurements: []Measurement{{Kind: KindSNP, Value: m48, RTMRs: [][]byte{m48}}}},
		{Kinds: []Kind{KindSoftware}, Measurements: []Measurement{{Kind: KindSoftware, Value: m48}}},
	}
	for _, p := range bad {
		if p.Validate() == nil {
			t.Errorf("accepted %+v", p)
		}
	}
	if (Policy{Kinds: []Kind{KindTDX, KindSoftware}}).Confidential() {
		t.Error("a policy accepting software called confidential")
	}
}

func TestEncodeParseKey(t *testing.T) {
	k := enclaveKey(t)
	b := EncodeKey(&k.PublicKey)
	if len(b) != 65 || b[0] != 4 {
		t.Fatalf("encoded %x", b)
	}
	pub, err := ParseKey(b)
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatal(err)
	}
	b[10] ^= 1
	if _, err := ParseKey(b); err == nil {
		t.Fatal("a point off the curve parsed")
	}
}

// FuzzDecodeEvidence: whatever decodes is canonical, and verifying it
// never panics, whatever the libraries beneath make of it.
func FuzzDecodeEvidence(f *testing.F) {
	key, _ := NewEnclaveKey()
	b := binding(key)
	sw, _ := Software{Key: key}.Attest(b)
	f.Add(sw.Encode())
	tdx, _ := os.ReadFile("testdata/tdx_prod_quote_SPR_E4.dat")
	f.Add((&Evidence{Kind: KindTDX, Quote: tdx}).Encode())
	snp, _ := os.ReadFile("testdata/snp_attestation.bin")
	vcek, _ := os.ReadFile("testdata/snp_vcek.der")
	f.Add((&Evidence{Kind: KindSNP, Quote: snp, Cert: vcek}).Encode())
	trust := VendorTrust()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := DecodeEvidence(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(ev.Encode(), raw) {
			t.Fatalf("accepted non-canonical evidence %x", raw)
		}
		if _, err := trust.Verify(ev, b, now, nil); err == nil && ev.Kind != KindSoftware {
			t.Fatalf("fuzzed %s evidence verified", ev.Kind)
		}
	})
}

// certOf parses a DER certificate or fails the test.
func certOf(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMeasureVerify(t *testing.T) {
	for _, k := range []Kind{KindTDX, KindSNP} {
		r, err := MeasureVerify(k, 200*time.Millisecond)
		if err != nil || r <= 0 {
			t.Fatalf("%s: %v %v", k, r, err)
		}
		t.Logf("%s: %.0f/s", k, r)
	}
	if _, err := MeasureVerify(KindSoftware, time.Millisecond); err == nil {
		t.Fatal("no software sample")
	}
}
