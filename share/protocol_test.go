package share

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/sealnet/sealnet/identity"
)

type world struct {
	ca       *identity.CA
	a, b, c  *identity.Identity
	revoked  map[identity.Fingerprint]bool
	enrolled map[identity.Fingerprint]*identity.Member
	now      time.Time
}

func mk(t testing.TB, ca *identity.CA, name string) *identity.Identity {
	key, _ := identity.NewKey()
	csr, _ := identity.NewCSR(key, name, ca.Org)
	der, err := ca.Issue(csr, identity.RoleClient, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := identity.ParseMember(der)
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

func newWorld(t testing.TB) *world {
	ca, _ := identity.NewCA("org1", time.Now().Add(-time.Hour), 24*time.Hour)
	w := &world{ca: ca, revoked: map[identity.Fingerprint]bool{}, enrolled: map[identity.Fingerprint]*identity.Member{}, now: time.Now()}
	w.a, w.b, w.c = mk(t, ca, "a"), mk(t, ca, "b"), mk(t, ca, "c")
	for _, id := range []*identity.Identity{w.a, w.b, w.c} {
		w.enrolled[id.Member.Fingerprint] = id.Member
	}
	return w
}

func (w *world) resolve(channel string, fp identity.Fingerprint) (*identity.Member, bool, error) {
	m, ok := w.enrolled[fp]
	if !ok || channel != "default" {
		return nil, false, errors.New("not enrolled")
	}
	return m, w.revoked[fp], nil
}

func (w *world) verifier(self *identity.Identity) *Verifier {
	return &Verifier{Self: self, Tau: time.Minute, Resolve: w.resolve}
}

var tx = [32]byte{7}

func TestGrant(t *testing.T) {
	w := newWorld(t)
	sealed, h, err := NewRequest(w.a, w.b.Member, "default", "bafy-cid", tx, w.now)
	if err != nil {
		t.Fatal(err)
	}
	v := w.verifier(w.b)
	in, err := v.OpenRequest(sealed, w.now)
	if err != nil {
		t.Fatal(err)
	}
	if in.Requester.ID != "a" || in.Request.HashData != "bafy-cid" || !bytes.Equal(in.Hash, h) {
		t.Fatalf("incoming %+v", in)
	}
	key := bytes.Repeat([]byte{9}, 32)
	ans, _, _, err := v.Answer(in, key, "", "", w.now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenAnswer(w.a, w.b.Member, h, ans, w.now, time.Minute)
	if err != nil || !bytes.Equal(got.Key, key) || got.Denied != "" {
		t.Fatalf("answer %+v %v", got, err)
	}
	// the answer is useless to anyone else and for another request
	if _, err := OpenAnswer(w.c, w.b.Member, h, ans, w.now, time.Minute); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("third party: %v", err)
	}
	if _, err := OpenAnswer(w.a, w.b.Member, []byte("other"), ans, w.now, time.Minute); !errors.Is(err, ErrMisaddressed) {
		t.Fatalf("other request: %v", err)
	}
	if _, err := OpenAnswer(w.a, w.c.Member, h, ans, w.now, time.Minute); !errors.Is(err, ErrForged) {
		t.Fatalf("answer claimed by another owner: %v", err)
	}
	deny, _, _, _ := v.Answer(in, nil, DenyPurged, "crypto-shredded", w.now)
	if got, err := OpenAnswer(w.a, w.b.Member, h, deny, w.now, time.Minute); err != nil || got.Denied != DenyPurged {
		t.Fatalf("denial %+v %v", got, err)
	}
}

func TestRequestRejections(t *testing.T) {
	w := newWorld(t)
	v := w.verifier(w.b)
	req := func(from *identity.Identity, to *identity.Member, at time.Time) []byte {
		s, _, err := NewRequest(from, to, "default", "bafy-cid", tx, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := req(w.a, w.b.Member, w.now)
	if _, err := v.OpenRequest(good, w.now); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OpenRequest(good, w.now.Add(time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := v.OpenRequest(req(w.a, w.b.Member, w.now.Add(-5*time.Minute)), w.now); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := v.OpenRequest(req(w.a, w.c.Member, w.now), w.now); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("sealed to another: %v", err)
	}
	// sealed to b but addressed to c inside
	misaddressed := *w.c.Member
	misaddressed.Cert = w.b.Member.Cert
	if _, err := v.OpenRequest(req(w.a, &misaddressed, w.now), w.now); !errors.Is(err, ErrMisaddressed) {
		t.Fatalf("misaddressed: %v", err)
	}
	// mallory signs with her key but claims to be a
	forger := &identity.Identity{Key: w.c.Key, Member: w.a.Member}
	if _, err := v.OpenRequest(req(forger, w.b.Member, w.now), w.now); !errors.Is(err, ErrForged) {
		t.Fatalf("forged: %v", err)
	}
	outsider := mk(t, w.ca, "outsider")
	if _, err := v.OpenRequest(req(outsider, w.b.Member, w.now), w.now); !errors.Is(err, ErrUnknown) {
		t.Fatalf("outsider: %v", err)
	}
	w.revoked[w.a.Member.Fingerprint] = true
	if _, err := v.OpenRequest(req(w.a, w.b.Member, w.now), w.now); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := v.OpenRequest([]byte("junk"), w.now); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("junk: %v", err)
	}
}

func FuzzDecodeSigned(f *testing.F) {
	w := newWorld(f)
	signed, _ := sign(w.a, requestDomain, Request{Channel: "default", Requester: make([]byte, 32)})
	f.Add(signed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if s, err := decodeSigned(b, &r); err == nil {
			if verify(s, requestDomain, &w.a.Key.PublicKey) == nil && !bytes.Equal(b, signed) {
				t.Fatal("accepted a forged request")
			}
		}
		var a Answer
		decodeSigned(b, &a)
	})
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	WriteFrame(&buf, []byte("hello"))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadFrame(bytes.NewReader(b))
		if err == nil && len(m) > MaxMessage {
			t.Fatal("oversized frame accepted")
		}
	})
}
