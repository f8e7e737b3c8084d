package identity

import (
	"crypto/sha256"
	"errors"
	"math/big"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func issue(t testing.TB, ca *CA, id string, role Role) (*Identity, error) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewCSR(key, id, ca.Org)
	if err != nil {
		return nil, err
	}
	der, err := ca.Issue(csr, role, t0, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	m, err := ParseMember(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Identity{Key: key, Member: m, CertDER: der}, nil
}

func TestIssueVerifyAndStore(t *testing.T) {
	ca, err := NewCA("acme", t0, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := issue(t, ca, "alice", RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	if alice.Member.ID != "alice" || alice.Member.Org != "acme" || alice.Member.Role != RoleClient {
		t.Fatalf("member %+v", alice.Member)
	}
	if err := VerifyMember(alice.Member.Cert, ca.Cert, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyMember(alice.Member.Cert, ca.Cert, t0.Add(48*time.Hour)); !errors.Is(err, ErrCertExpired) {
		t.Fatalf("after expiry: %v", err)
	}
	other, _ := NewCA("acme", t0, time.Hour)
	if err := VerifyMember(alice.Member.Cert, other.Cert, t0.Add(time.Minute)); !errors.Is(err, ErrWrongIssuer) {
		t.Fatalf("other CA: %v", err)
	}
	if _, err := issue(t, ca, "alice", RoleAdmin); !errors.Is(err, ErrDuplicateMember) {
		t.Fatalf("duplicate: %v", err)
	}

	dir := t.TempDir()
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := issue(t, back, "alice", RoleAdmin); !errors.Is(err, ErrDuplicateMember) {
		t.Fatalf("duplicate after reload: %v", err)
	}
	if err := SaveIdentity(filepath.Join(dir, "keys"), "alice", alice.Key, alice.CertDER); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIdentity(filepath.Join(dir, "keys"), "alice")
	if err != nil || got.Member.Fingerprint != alice.Member.Fingerprint {
		t.Fatalf("load identity: %v", err)
	}
	bob, _ := issue(t, ca, "bob", RoleClient)
	SaveIdentity(filepath.Join(dir, "keys"), "mixed", alice.Key, bob.CertDER)
	if _, err := LoadIdentity(filepath.Join(dir, "keys"), "mixed"); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("mismatched key: %v", err)
	}
}

func TestIssueRejectsBadCSRs(t *testing.T) {
	ca, _ := NewCA("acme", t0, time.Hour)
	key, _ := NewKey()
	wrongOrg, _ := NewCSR(key, "eve", "globex")
	if _, err := ca.Issue(wrongOrg, RoleClient, t0, time.Hour); err == nil {
		t.Fatal("CSR of another org issued")
	}
	csr, _ := NewCSR(key, "eve", "acme")
	csr[len(csr)-3] ^= 1 // break the CSR's self-signature
	if _, err := ca.Issue(csr, RoleClient, t0, time.Hour); err == nil {
		t.Fatal("CSR with a bad signature issued")
	}
	if _, err := NewCSR(key, "Eve Smith", "acme"); err == nil {
		t.Fatal("invalid member ID accepted")
	}
	good, _ := NewCSR(key, "eve", "acme")
	if _, err := ca.Issue(good, Role("root"), t0, time.Hour); err == nil {
		t.Fatal("unknown role issued")
	}
}

func TestSignVerify(t *testing.T) {
	key, _ := NewKey()
	d := sha256.Sum256([]byte("batch 7"))
	sig, err := Sign(key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(&key.PublicKey, d[:], sig); err != nil {
		t.Fatal(err)
	}
	// the high-S twin of a valid signature is refused
	s := new(big.Int).SetBytes(sig[32:])
	high := append([]byte{}, sig[:32]...)
	high = append(high, new(big.Int).Sub(curveN, s).FillBytes(make([]byte, 32))...)
	if err := Verify(&key.PublicKey, d[:], high); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("high S: %v", err)
	}
	if err := Verify(&key.PublicKey, d[:], sig[:63]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("truncated: %v", err)
	}
	e := sha256.Sum256([]byte("batch 8"))
	if err := Verify(&key.PublicKey, e[:], sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other digest: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	key, _ := NewKey()
	d := sha256.Sum256([]byte("x"))
	sig, _ := Sign(key, d[:])
	f.Add(sig)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, s []byte) {
		if Verify(&key.PublicKey, d[:], s) == nil && string(s) != string(sig) {
			// another valid low-S signature is possible only from the key
			if len(s) != SignatureSize {
				t.Fatalf("accepted %d-byte signature", len(s))
			}
		}
	})
}

func FuzzParseMember(f *testing.F) {
	ca, _ := NewCA("acme", t0, time.Hour)
	id, _ := issue(f, ca, "alice", RoleClient)
	f.Add(id.CertDER)
	f.Add(ca.Cert.Raw)
	f.Fuzz(func(t *testing.T, der []byte) {
		m, err := ParseMember(der)
		if err != nil {
			return
		}
		if !ValidMemberID(m.ID) || m.Org == "" || m.Fingerprint != FingerprintOf(der) {
			t.Fatalf("accepted member %+v", m)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	key, _ := NewKey()
	d := sha256.Sum256([]byte("x"))
	for b.Loop() {
		Sign(key, d[:])
	}
}

func BenchmarkVerify(b *testing.B) {
	key, _ := NewKey()
	d := sha256.Sum256([]byte("x"))
	sig, _ := Sign(key, d[:])
	for b.Loop() {
		Verify(&key.PublicKey, d[:], sig)
	}
}
