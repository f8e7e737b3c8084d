package seal

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sealnet/sealnet/identity"
)

func owner(t testing.TB, name string) *identity.Identity {
	t.Helper()
	ca, err := identity.NewCA("org1", time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.NewKey()
	csr, _ := identity.NewCSR(key, name, "org1")
	der, err := ca.Issue(csr, identity.RoleClient, time.Now().Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := identity.ParseMember(der)
	return &identity.Identity{Key: key, Member: m, CertDER: der}
}

func seal(t testing.TB, data []byte, key DataKey, o *identity.Identity) []byte {
	t.Helper()
	var ct bytes.Buffer
	w, err := Encrypt(&ct, key, o, time.Unix(1_800_000_000, 5))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return ct.Bytes()
}

func open(ct []byte, key DataKey, m *identity.Member) ([]byte, *Reader, error) {
	r, err := Decrypt(bytes.NewReader(ct), key, m)
	if err != nil {
		return nil, nil, err
	}
	out, err := io.ReadAll(r)
	return out, r, err
}

func TestRoundTrip(t *testing.T) {
	o := owner(t, "bob")
	key, _ := NewDataKey()
	one := firstSegment - trailerLen // the most data of a one-segment stream
	for _, n := range []int{0, 1, trailerLen, one - 1, one, one + 1, segmentSize - 100, segmentSize, 3*segmentSize + 7} {
		data := make([]byte, n)
		rand.NewChaCha8([32]byte{byte(n)}).Read(data)
		ct := seal(t, data, key, o)
		got, r, err := open(ct, key, o.Member)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: plaintext differs", n)
		}
		if info := r.Info(); info.Size != uint64(n) || info.Owner != o.Member.Fingerprint || info.T1.UnixNano() != 1_800_000_000_000_000_005 {
			t.Fatalf("%d bytes: trailer %+v", n, info)
		}
	}
}

// A stream that fits in one segment, which Encrypt writes itself, is
// Tink's format: as long as the stream Tink's writer makes of the same
// plaintext, and Tink's reader decrypts it (which checks the derived key,
// the nonce prefix, the segment number and the last-segment flag).
func TestOneSegmentIsTinkFormat(t *testing.T) {
	key, _ := NewDataKey()
	p, err := primitive(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 4096, firstSegment - 1, firstSegment} {
		pt := make([]byte, n)
		rand.NewChaCha8([32]byte{byte(n), 7}).Read(pt)
		ours, err := oneSegment(key, pt)
		if err != nil {
			t.Fatal(err)
		}
		var theirs bytes.Buffer
		w, _ := p.NewEncryptingWriter(&theirs, aad)
		w.Write(pt)
		w.Close()
		if len(ours) != theirs.Len() {
			t.Errorf("%d bytes: our stream is %d bytes, Tink's %d", n, len(ours), theirs.Len())
		}
		r, err := p.NewDecryptingReader(bytes.NewReader(ours), aad)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: Tink reads back %d bytes, %v", n, len(got), err)
		}
	}
}

// BenchmarkEncryptSmall is the cost of one small object (a 4 KiB file).
func BenchmarkEncryptSmall(b *testing.B) {
	o := owner(b, "bob")
	key, _ := NewDataKey()
	data := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		w, _ := Encrypt(io.Discard, key, o, time.Now())
		w.Write(data)
		w.Close()
	}
}

func TestRejections(t *testing.T) {
	o := owner(t, "bob")
	key, _ := NewDataKey()
	data := bytes.Repeat([]byte("maintenance imminent "), 100_000)
	ct := seal(t, data, key, o)

	other, _ := NewDataKey()
	if _, _, err := open(ct, other, o.Member); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, _, err := open(ct[:len(ct)-10], key, o.Member); err == nil {
		t.Fatal("truncated ciphertext accepted")
	}
	if _, _, err := open(ct[:segmentSize], key, o.Member); err == nil {
		t.Fatal("ciphertext cut at a segment boundary accepted")
	}
	bad := bytes.Clone(ct)
	bad[len(bad)/2] ^= 1
	if _, _, err := open(bad, key, o.Member); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("flipped byte: %v", err)
	}
	mallory := owner(t, "mallory")
	if _, _, err := open(ct, key, mallory.Member); !errors.Is(err, ErrWrongOwner) {
		t.Fatalf("other owner: %v", err)
	}
	// a key that signs for a certificate it does not hold
	forger := &identity.Identity{Key: mallory.Key, Member: o.Member}
	forged := seal(t, data, key, forger)
	if _, _, err := open(forged, key, o.Member); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged signature: %v", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	o := owner(f, "bob")
	key, _ := NewDataKey()
	good := seal(f, []byte("spindle 5367"), key, o)
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, _, err := open(ct, key, o.Member)
		if err == nil && !bytes.Equal(ct, good) && !bytes.Equal(got, []byte("spindle 5367")) {
			t.Fatalf("accepted a foreign ciphertext")
		}
	})
}

func benchData() []byte {
	data := make([]byte, 16<<20)
	rand.NewChaCha8([32]byte{}).Read(data)
	return data
}

func BenchmarkEncrypt(b *testing.B) {
	o := owner(b, "bob")
	key, _ := NewDataKey()
	data := benchData()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w, _ := Encrypt(io.Discard, key, o, time.Now())
		w.Write(data)
		w.Close()
	}
}

func BenchmarkDecrypt(b *testing.B) {
	o := owner(b, "bob")
	key, _ := NewDataKey()
	data := benchData()
	ct := seal(b, data, key, o)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, _ := Decrypt(bytes.NewReader(ct), key, o.Member)
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
