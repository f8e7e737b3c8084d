package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	tdxtest "github.com/google/go-tdx-guest/testing"
	tdxverify "github.com/google/go-tdx-guest/verify"
	"testing"
	"time"

	tdxabi "github.com/google/go-tdx-guest/abi"
	tdxpb "github.com/google/go-tdx-guest/proto/tdx"
)

// The quote was made 2023; its PCK certificate is valid until 2029-09-20,
// Intel's sample collateral from 2023-06-08 to 2023-07-08.
var (
	quoteTime      = time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	laterTime      = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	collateralPast = time.Date(2023, 7, 10, 0, 0, 0, 0, time.UTC)
	pckExpired     = time.Date(2029, 10, 1, 0, 0, 0, 0, time.UTC)
)

// realQuote returns the production quote and its report data.
func realQuote(t testing.TB) (*Evidence, [64]byte) {
	t.Helper()
	raw := read(t, "tdx_prod_quote_SPR_E4.dat")
	q, err := tdxabi.QuoteToProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], q.(*tdxpb.QuoteV4).GetTdQuoteBody().GetReportData())
	return &Evidence{Kind: KindTDX, Quote: raw}, rd
}

func sampleTDXCollateral(t testing.TB) *TDXCollateral {
	return &TDXCollateral{
		TCBInfo: read(t, "sample_tcbInfo_response"), TCBInfoChain: read(t, "tcbinfo_chain.pem"),
		QEIdentity: read(t, "sample_qeIdentity_response"), QEIdentityChain: read(t, "qeidentity_chain.pem"),
		PCKCRL: read(t, "pckcrl"), PCKCRLChain: read(t, "pckcrl_chain.pem"), RootCRL: read(t, "rootcrl.der"),
	}
}

type fixedCollateral struct {
	tdx *TDXCollateral
	snp *SNPCollateral
}

func (f fixedCollateral) TDX(string) (*TDXCollateral, error) { return f.tdx, nil }
func (f fixedCollateral) SNP(string) (*SNPCollateral, error) { return f.snp, nil }

func TestTDXProductionQuote(t *testing.T) {
	ev, rd := realQuote(t)
	trust := VendorTrust()
	for _, now := range []time.Time{quoteTime, laterTime} {
		v, err := trust.verifyTDX(ev, rd, now, NoCollateral{})
		if err != nil {
			t.Fatalf("at %s: %v", now, err)
		}
		if v.Kind != KindTDX || len(v.Measurement) != 48 || len(v.RTMRs) != 4 || v.Debug || v.Collateral || v.Platform != "fmspc 50806f000000" {
			t.Fatalf("verified %+v", v)
		}
	}
	// through Verify, for a binding of ours: the quote binds something else
	key := enclaveKey(t)
	if _, err := trust.Verify(ev, binding(key), quoteTime, nil); !errors.Is(err, ErrBinding) {
		t.Fatalf("a quote replayed for another job: %v", err)
	}
	v, _ := trust.verifyTDX(ev, rd, quoteTime, NoCollateral{})
	policy := Policy{Kinds: []Kind{KindTDX}, Measurements: []Measurement{{Kind: KindTDX, Value: v.Measurement, RTMRs: [][]byte{v.RTMRs[0]}}}}
	if err := policy.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := policy.Check(v); err != nil {
		t.Fatalf("policy naming its measurement: %v", err)
	}
	policy.Measurements[0].RTMRs[0] = make([]byte, 48)
	if err := policy.Check(v); !errors.Is(err, ErrPolicy) {
		t.Fatalf("another RTMR0: %v", err)
	}
	policy.RequireCollateral = true
	policy.Measurements[0].RTMRs = nil
	if err := policy.Check(v); !errors.Is(err, ErrCollateral) {
		t.Fatalf("required collateral: %v", err)
	}
}

func TestTDXRefusals(t *testing.T) {
	ev, rd := realQuote(t)
	trust := VendorTrust()
	flip := func(i int) *Evidence {
		q := append([]byte(nil), ev.Quote...)
		q[i] ^= 0x01
		return &Evidence{Kind: KindTDX, Quote: q}
	}
	// offsets in a v4 quote: header 0-47, TD body 48-631 (MRTD at 184,
	// report data at 568), then the signed data (signature at 636)
	cases := []struct {
		name string
		ev   *Evidence
		rd   [64]byte
		now  time.Time
		col  Collateral
		want error
	}{
		{"tampered MRTD", flip(48 + 136), rd, quoteTime, nil, ErrSignature},
		{"tampered report data", flip(48 + 520), rd, quoteTime, nil, ErrBinding},
		{"tampered signature", flip(636 + 10), rd, quoteTime, nil, ErrSignature},
		{"truncated", &Evidence{Kind: KindTDX, Quote: ev.Quote[:600]}, rd, quoteTime, nil, ErrMalformed},
		{"PCK certificate expired", ev, rd, pckExpired, nil, ErrSignature},
		{"another root", ev, rd, quoteTime, nil, ErrSignature},
		{"collateral past its next update", ev, rd, collateralPast, fixedCollateral{tdx: sampleTDXCollateral(t)}, ErrCollateral},
		{"TCB matches no level of the collateral", ev, rd, quoteTime, fixedCollateral{tdx: sampleTDXCollateral(t)}, ErrTCB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := trust
			if tc.name == "another root" {
				tr = NewTrust("test", []*x509.Certificate{certOf(t, read(t, "snp_vcek.der"))}, nil)
			}
			col := tc.col
			if col == nil {
				col = NoCollateral{}
			}
			_, err := tr.verifyTDX(tc.ev, tc.rd, tc.now, col)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTDXCollateral(t *testing.T) {
	trust := VendorTrust()
	c := sampleTDXCollateral(t)
	info, err := trust.CheckTDXCollateral(c, quoteTime)
	if err != nil {
		t.Fatal(err)
	}
	if info.FMSPC != "50806f000000" || info.Evaluation != 15 || info.PCKCA != "platform" ||
		!info.NextUpdate.Equal(time.Date(2023, 7, 8, 7, 24, 59, 0, time.UTC)) {
		t.Fatalf("info %+v", info)
	}
	if _, err := trust.CheckTDXCollateral(c, collateralPast); !errors.Is(err, ErrCollateral) {
		t.Fatalf("expired collateral: %v", err)
	}
	tampered := *c
	tampered.TCBInfo = append([]byte(nil), c.TCBInfo...)
	i := len(`{"tcbInfo":{"id":"TDX","version":3,"issueDate":"2023-06-18T08:42:58Z","nextUpdate":"2023-07-18T08:42:58Z","fmspc":"`)
	tampered.TCBInfo[i] ^= 1 // the FMSPC
	if _, err := trust.CheckTDXCollateral(&tampered, quoteTime); !errors.Is(err, ErrCollateral) {
		t.Fatalf("tampered TCB info: %v", err)
	}
	swapped := *c
	swapped.TCBInfoChain, swapped.PCKCRLChain = c.PCKCRLChain, c.TCBInfoChain
	if _, err := trust.CheckTDXCollateral(&swapped, quoteTime); !errors.Is(err, ErrCollateral) {
		t.Fatalf("swapped chains: %v", err)
	}
	for _, field := range []*[]byte{&tampered.PCKCRL, &tampered.RootCRL} {
		tampered = *c
		*field = append([]byte(nil), *field...)
		(*field)[len(*field)-5] ^= 1
		if _, err := trust.CheckTDXCollateral(&tampered, quoteTime); !errors.Is(err, ErrCollateral) {
			t.Fatalf("tampered CRL: %v", err)
		}
	}
	// the getter serves what it holds and refuses anything else
	g := info.getter()
	if _, body, err := g.Get("https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000"); err != nil || len(body) == 0 {
		t.Fatal(err)
	}
	if _, _, err := g.Get("https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=000000000000"); err == nil {
		t.Fatal("served another FMSPC's TCB info")
	}
}

func BenchmarkVerifyTDX(b *testing.B) {
	ev, rd := realQuote(b)
	trust := VendorTrust()
	for b.Loop() {
		if _, err := trust.verifyTDX(ev, rd, quoteTime, NoCollateral{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyTDXWithCollateral(b *testing.B) {
	ev, rd := realQuote(b)
	trust := VendorTrust()
	col := fixedCollateral{tdx: sampleTDXCollateral(b)}
	for b.Loop() {
		// the sample collateral knows no TCB level of this quote: the
		// whole check runs and ends in ErrTCB
		if _, err := trust.verifyTDX(ev, rd, quoteTime, col); !errors.Is(err, ErrTCB) {
			b.Fatal(err)
		}
	}
}

// FuzzTDXCollateral: collateral anyone may post is checked without
// panicking, and nothing but Intel's signed bytes passes.
func FuzzTDXCollateral(f *testing.F) {
	c := sampleTDXCollateral(f)
	f.Add(c.TCBInfo, c.QEIdentity, c.PCKCRL)
	trust := VendorTrust()
	f.Fuzz(func(t *testing.T, tcb, qe, crl []byte) {
		d := *c
		d.TCBInfo, d.QEIdentity, d.PCKCRL = tcb, qe, crl
		_, err := trust.CheckTDXCollateral(&d, quoteTime)
		if err == nil && (string(tcb) != string(c.TCBInfo) || string(qe) != string(c.QEIdentity) || string(crl) != string(c.PCKCRL)) {
			t.Fatal("altered collateral verified")
		}
	})
}

// forgedTCBInfo appends to Intel's signed TCB info a second member,
// "TcbInfo", whose levels call every platform up to date. encoding/json
// matches member names case-insensitively, so a decoder reading the body
// into a struct takes the forgery, while the signature is checked over
// the genuine "tcbInfo".
func forgedTCBInfo(t testing.TB, genuine []byte) []byte {
	t.Helper()
	var doc struct {
		TCBInfo map[string]any `json:"tcbInfo"`
	}
	if err := json.Unmarshal(genuine, &doc); err != nil {
		t.Fatal(err)
	}
	zeros := make([]map[string]any, 16)
	for i := range zeros {
		zeros[i] = map[string]any{"svn": 0}
	}
	upToDate := map[string]any{"tcb": map[string]any{"sgxtcbcomponents": zeros, "pcesvn": 0, "tdxtcbcomponents": zeros, "isvsvn": 0},
		"tcbDate": "2023-01-01T00:00:00Z", "tcbStatus": "UpToDate"}
	doc.TCBInfo["tcbLevels"] = []any{upToDate}
	ids := []any{}
	for v := range 256 {
		id := map[string]any{"id": fmt.Sprintf("TDX_%02x", v), "tcbLevels": []any{upToDate}}
		for _, f := range []string{"mrsigner", "attributes", "attributesMask"} {
			id[f] = doc.TCBInfo["tdxModule"].(map[string]any)[f]
		}
		ids = append(ids, id)
	}
	doc.TCBInfo["tdxModuleIdentities"] = ids
	forged, err := json.Marshal(doc.TCBInfo)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.TrimRight(genuine, "\n }")
	return append(append(append(body, `,"TcbInfo":`...), forged...), '}')
}

func TestForgedTCBInfoRefused(t *testing.T) {
	c := sampleTDXCollateral(t)
	forged := *c
	forged.TCBInfo = forgedTCBInfo(t, c.TCBInfo)
	if _, err := VendorTrust().CheckTDXCollateral(&forged, quoteTime); !errors.Is(err, ErrCollateral) {
		t.Fatalf("a TCB info with a second, case-variant member passed: %v", err)
	}
	ev, rd := realQuote(t)
	if _, err := VendorTrust().verifyTDX(ev, rd, quoteTime, fixedCollateral{tdx: &forged}); !errors.Is(err, ErrCollateral) {
		t.Fatalf("a quote checked against forged collateral: %v", err)
	}
	// go-tdx-guest v0.3.1 itself, fed the forged body, takes the forged
	// levels: the quote that Intel's levels refuse passes.
	getter := &tdxtest.Getter{Responses: map[string]tdxtest.HTTPResponse{}}
	for u, r := range tdxtest.TestGetter.Responses {
		getter.Responses[u] = r
	}
	u := "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000"
	getter.Responses[u] = tdxtest.HTTPResponse{Header: tdxtest.TestGetter.Responses[u].Header, Body: forged.TCBInfo}
	opts := &tdxverify.Options{Now: quoteTime, GetCollateral: true, CheckRevocations: true, Getter: getter, TrustedRoots: VendorTrust().intelPool()}
	if err := tdxverify.RawTdxQuote(ev.Quote, opts); err != nil {
		t.Logf("go-tdx-guest refuses the forged TCB info too (%v)", err)
	} else {
		t.Logf("go-tdx-guest accepts the forged TCB info: sealnet never hands it the submitted body")
	}
}
