package attest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/faketsm"
	sevabi "github.com/google/go-sev-guest/abi"
	sevtest "github.com/google/go-sev-guest/testing"
)

func realSNP(t testing.TB) (*Evidence, [64]byte) {
	t.Helper()
	raw := read(t, "snp_attestation.bin")
	r, err := sevabi.ReportToProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], r.GetReportData())
	return &Evidence{Kind: KindSNP, Quote: raw, Cert: read(t, "snp_vcek.der")}, rd
}

func TestSNPProductionReport(t *testing.T) {
	ev, rd := realSNP(t)
	trust := VendorTrust()
	for _, now := range []time.Time{quoteTime, laterTime} {
		v, err := trust.verifySNP(ev, rd, now, NoCollateral{})
		if err != nil {
			t.Fatalf("at %s: %v", now, err)
		}
		if v.Kind != KindSNP || v.Platform != "Milan" || len(v.Measurement) != 48 || !v.Debug {
			t.Fatalf("verified %+v", v)
		}
		// the report was made by a debuggable guest
		p := Policy{Kinds: []Kind{KindSNP}, Measurements: []Measurement{{Kind: KindSNP, Value: v.Measurement}}}
		if err := p.Check(v); !errors.Is(err, ErrPolicy) {
			t.Fatalf("a debug guest passed a policy that does not allow it: %v", err)
		}
		p.AllowDebug = true
		if err := p.Check(v); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(i int) *Evidence {
		q := append([]byte(nil), ev.Quote...)
		q[i] ^= 0x01
		return &Evidence{Kind: KindSNP, Quote: q, Cert: ev.Cert}
	}
	cases := []struct {
		name string
		ev   *Evidence
		now  time.Time
		want error
	}{
		{"tampered measurement", flip(0x90), quoteTime, ErrSignature},
		{"tampered report data", flip(0x50), quoteTime, ErrBinding},
		{"tampered signature", flip(0x2a0 + 3), quoteTime, ErrSignature},
		{"VCEK expired", ev, time.Date(2029, 10, 1, 0, 0, 0, 0, time.UTC), ErrSignature},
		{"another VCEK", &Evidence{Kind: KindSNP, Quote: ev.Quote, Cert: testSigner(t).Vcek.Raw}, quoteTime, ErrSignature},
		{"truncated", &Evidence{Kind: KindSNP, Quote: ev.Quote[:1000], Cert: ev.Cert}, quoteTime, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := trust.verifySNP(tc.ev, rd, tc.now, NoCollateral{}); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := trust.Verify(ev, binding(enclaveKey(t)), quoteTime, nil); !errors.Is(err, ErrBinding) {
		t.Fatalf("a report replayed for another job: %v", err)
	}
}

// The test-only AMD chain of go-sev-guest: an ARK, ASK and VCEK with keys
// fixed in its source, so anyone can sign with them. Trusted in tests
// only; the vendor Trust refuses it.
var signerCreated = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func testSigner(t testing.TB) *sevtest.AmdSigner {
	t.Helper()
	s, err := sevtest.DefaultTestOnlyCertChain("Milan-B1", signerCreated)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTrust trusts the test-only AMD chain.
func testTrust(s *sevtest.AmdSigner) *Trust {
	return NewTrust("test", nil, []AMDRoot{{ProductLine: "Milan", ARK: s.Ark, ASK: s.Ask}})
}

var snpMeasurement = []byte("sealnet test image, 48 bytes of measurement.....")

// signedReport is what an SNP guest would report for rd, signed by the
// test chain: not debuggable, with snpMeasurement.
func signedReport(t testing.TB, s *sevtest.AmdSigner, rd [64]byte) []byte {
	t.Helper()
	r := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: rd[:]})
	binary.LittleEndian.PutUint64(r[0x08:0x10], sevabi.SnpPolicyToBytes(sevabi.SnpPolicy{SMT: true}))
	copy(r[0x90:0xc0], snpMeasurement)
	report := r[:sevabi.ReportSize]
	R, S, err := s.Sign(sevabi.SignedComponent(report))
	if err != nil {
		t.Fatal(err)
	}
	if err := sevabi.SetSignature(R, S, report); err != nil {
		t.Fatal(err)
	}
	return report
}

func testCRL(t testing.TB, s *sevtest.AmdSigner, number int64, this, next time.Time, revoked ...*big.Int) *SNPCollateral {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: this, NextUpdate: next}
	for _, sn := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: this})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, s.Ark, s.Keys.Ark)
	if err != nil {
		t.Fatal(err)
	}
	return &SNPCollateral{ProductLine: "Milan", CRL: der}
}

// Key binding end to end: an SNP report carrying our binding's report
// data verifies under the (test) roots it chains to, for that binding
// only, and is refused under AMD's.
func TestSNPKeyBinding(t *testing.T) {
	s := testSigner(t)
	trust := testTrust(s)
	key := enclaveKey(t)
	b := binding(key)
	ev := &Evidence{Kind: KindSNP, Quote: signedReport(t, s, b.ReportData()), Cert: s.Vcek.Raw}
	ev, err := DecodeEvidence(ev.Encode())
	if err != nil {
		t.Fatal(err)
	}
	now := signerCreated.Add(365 * 24 * time.Hour)
	v, err := trust.Verify(ev, b, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Debug || v.Collateral || string(v.Measurement) != string(snpMeasurement) || v.Roots != "test" {
		t.Fatalf("verified %+v", v)
	}
	policy := Policy{Kinds: []Kind{KindSNP}, Measurements: []Measurement{{Kind: KindSNP, Value: snpMeasurement}}}
	if err := policy.Check(v); err != nil {
		t.Fatal(err)
	}
	if _, err := VendorTrust().Verify(ev, b, now, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("the test chain verified under AMD's roots: %v", err)
	}
	for name, other := range map[string]func(*Binding){
		"another chain":  func(o *Binding) { o.Chain = "other" },
		"another job":    func(o *Binding) { o.Job = "other" },
		"another worker": func(o *Binding) { o.Worker[0] ^= 1 },
		"another key":    func(o *Binding) { o.EnclaveKey = EncodeKey(&enclaveKey(t).PublicKey) },
		"a later claim":  func(o *Binding) { o.ClaimHeight++ },
	} {
		o := b
		other(&o)
		if _, err := trust.Verify(ev, o, now, nil); !errors.Is(err, ErrBinding) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// collateral: a fresh CRL is checked; a revoked VCEK or an expired
	// CRL is refused; a CRL not signed by the ARK is refused
	fresh := testCRL(t, s, 2, now.Add(-time.Hour), now.Add(24*time.Hour))
	if v, err := trust.Verify(ev, b, now, fixedCollateral{snp: fresh}); err != nil || !v.Collateral {
		t.Fatalf("with a fresh CRL: %+v %v", v, err)
	}
	revoked := testCRL(t, s, 3, now.Add(-time.Hour), now.Add(24*time.Hour), s.Vcek.SerialNumber)
	if _, err := trust.Verify(ev, b, now, fixedCollateral{snp: revoked}); !errors.Is(err, ErrTCB) {
		t.Fatalf("revoked VCEK: %v", err)
	}
	if _, err := trust.Verify(ev, b, now.Add(48*time.Hour), fixedCollateral{snp: fresh}); !errors.Is(err, ErrCollateral) {
		t.Fatalf("expired CRL: %v", err)
	}
	forged := *fresh
	forged.CRL = append([]byte(nil), fresh.CRL...)
	forged.CRL[len(forged.CRL)-3] ^= 1
	if _, err := trust.Verify(ev, b, now, fixedCollateral{snp: &forged}); !errors.Is(err, ErrCollateral) {
		t.Fatalf("forged CRL: %v", err)
	}
	info, err := trust.CheckSNPCollateral(fresh, now)
	if err != nil || info.Number.Int64() != 2 {
		t.Fatalf("%+v %v", info, err)
	}
}

// The configfs-tsm attester, driven through a fake configfs that answers
// as an SNP guest would (report signed by the test chain, VCEK in the
// auxiliary blob's certificate table).
func TestTSMAttester(t *testing.T) {
	s := testSigner(t)
	certs, err := s.CertTableBytes()
	if err != nil {
		t.Fatal(err)
	}
	sub := faketsm.ReportV7(0)
	sub.ReadAttr = func(e *faketsm.ReportEntry, attr string) ([]byte, error) {
		switch attr {
		case "provider":
			return []byte("sev_guest\n"), nil
		case "auxblob":
			return certs, nil
		case "outblob":
			var rd [64]byte
			copy(rd[:], e.InAttrs["inblob"].Value)
			return signedReport(t, s, rd), nil
		}
		return nil, errors.New("no attribute " + attr)
	}
	a := &TSM{Client: &faketsm.Client{Subsystems: map[string]configfsi.Client{"report": sub}}}
	key := enclaveKey(t)
	b := binding(key)
	ev, err := a.Attest(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind() != KindSNP {
		t.Fatalf("kind %q", a.Kind())
	}
	if _, err := testTrust(s).Verify(ev, b, signerCreated.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	sub.ReadAttr = func(e *faketsm.ReportEntry, attr string) ([]byte, error) {
		if attr == "provider" {
			return []byte("fake\n"), nil
		}
		return []byte("x"), nil
	}
	if _, err := a.Attest(b); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("unknown provider: %v", err)
	}
}

func BenchmarkVerifySNP(b *testing.B) {
	ev, rd := realSNP(b)
	trust := VendorTrust()
	for b.Loop() {
		if _, err := trust.verifySNP(ev, rd, quoteTime, NoCollateral{}); err != nil {
			b.Fatal(err)
		}
	}
}
