package result

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"io"
	"testing"

	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
)

func key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var bind = Binding{Chain: "plant", Job: "6a6f62", Worker: identity.Fingerprint{9}}

func encrypt(t testing.TB, to *ecdsa.PublicKey, b Binding, plain []byte, writes int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := Encrypt(&out, to, b)
	if err != nil {
		t.Fatal(err)
	}
	step := max(1, len(plain)/max(writes, 1))
	for p := plain; len(p) > 0; {
		n := min(step, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	k := key(t)
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		plain := bytes.Repeat([]byte{byte(size)}, size)
		for _, writes := range []int{1, 7} {
			ct := encrypt(t, &k.PublicKey, bind, plain, writes)
			r, err := Decrypt(bytes.NewReader(ct), k, bind)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("size %d: %v, %d bytes back", size, err, len(got))
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	k := key(t)
	plain := bytes.Repeat([]byte("sensor "), 2*chunkSize/7+100) // three chunks
	ct := encrypt(t, &k.PublicKey, bind, plain, 1)
	read := func(ct []byte, key *ecdsa.PrivateKey, b Binding) error {
		r, err := Decrypt(bytes.NewReader(ct), key, b)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(r)
		return err
	}
	other := bind
	other.Job = "another"
	firstChunkEnd := len(magic) + 2 + 65 + 4 + chunkSize + overhead
	cases := []struct {
		name string
		ct   []byte
		key  *ecdsa.PrivateKey
		b    Binding
		want error
	}{
		{"another key", ct, key(t), bind, ErrWrongKey},
		{"another job", ct, k, other, ErrWrongKey},
		{"flipped byte", flip(ct, len(ct)/2), k, bind, ErrWrongKey},
		{"cut after a full chunk", ct[:firstChunkEnd], k, bind, ErrTruncated},
		{"cut inside a chunk", ct[:firstChunkEnd+100], k, bind, ErrTruncated},
		{"header only", ct[:len(magic)+2+65], k, bind, ErrTruncated},
		{"trailing byte", append(append([]byte{}, ct...), 0), k, bind, ErrMalformed},
		{"no header", []byte("hello"), k, bind, ErrMalformed},
	}
	for _, tc := range cases {
		if err := read(tc.ct, tc.key, tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

func TestOpenChecksTheCommitment(t *testing.T) {
	k := key(t)
	salt := bytes.Repeat([]byte{5}, 32)
	output := []byte("press-7 count=8 min=2.000 max=9.000\n")
	ct := encrypt(t, &k.PublicKey, bind, output, 1)
	commitment := compute.OutputCommitment(salt, bind.Job, output)
	got, err := Open(bytes.NewReader(ct), k, bind, salt, commitment, 1024)
	if err != nil || !bytes.Equal(got, output) {
		t.Fatalf("%v %q", err, got)
	}
	if _, err := Open(bytes.NewReader(ct), k, bind, salt, compute.OutputCommitment(salt, bind.Job, []byte("other")), 1024); !errors.Is(err, ErrCommitment) {
		t.Fatalf("another commitment: %v", err)
	}
	if _, err := Open(bytes.NewReader(ct), k, bind, salt, commitment, 10); !errors.Is(err, ErrMalformed) {
		t.Fatalf("over the limit: %v", err)
	}
}

// FuzzDecrypt: no input panics the reader, and none but the sealed one
// decrypts.
func FuzzDecrypt(f *testing.F) {
	k, _ := identity.NewKey()
	var buf bytes.Buffer
	w, _ := Encrypt(&buf, &k.PublicKey, bind)
	w.Write([]byte("a result"))
	w.Close()
	sealed := buf.Bytes()
	f.Add(sealed)
	f.Add(sealed[:40])
	f.Fuzz(func(t *testing.T, ct []byte) {
		r, err := Decrypt(bytes.NewReader(ct), k, bind)
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(ct, sealed) {
			t.Fatalf("decrypted %q from altered bytes", got)
		}
	})
}
