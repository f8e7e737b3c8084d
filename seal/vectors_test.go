package seal

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/golden"
)

// sealVector is docs/vectors/seal.json: a small object signed (M1) and
// encrypted as paper 002's Algorithm 1.
type sealVector struct {
	Comment     string     `json:"comment"`
	PrivateKey  golden.Hex `json:"owner_private_key"`
	PublicKey   golden.Hex `json:"owner_public_key"`
	Fingerprint golden.Hex `json:"owner_fingerprint"`
	T1          int64      `json:"t1"`
	Data        golden.Hex `json:"data"`
	Digest      golden.Hex `json:"m1_digest"`
	Signature   golden.Hex `json:"signature"`
	Plaintext   golden.Hex `json:"plaintext"`
	DataKey     golden.Hex `json:"data_key"`
	AAD         string     `json:"associated_data"`
	Ciphertext  golden.Hex `json:"ciphertext"`
}

const sealFile = "seal.json"

// m1 is the documented digest the owner signs.
func m1(data, fp []byte, t1 int64, size uint64) []byte {
	b := append([]byte(m1Domain), data...)
	b = append(b, fp...)
	b = binary.BigEndian.AppendUint64(b, uint64(t1))
	h := sha256.Sum256(binary.BigEndian.AppendUint64(b, size))
	return h[:]
}

// plaintext is the documented stream inside the encryption.
func plaintext(data, fp []byte, t1 int64, sig []byte) []byte {
	b := append(append([]byte{}, data...), magic...)
	b = append(b, fp...)
	b = binary.BigEndian.AppendUint64(b, uint64(t1))
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	return append(b, sig...)
}

// tinkEncrypt and tinkDecrypt use the object's Tink streaming AEAD
// alone, without the signing layer.
func tinkEncrypt(t *testing.T, key []byte, pt []byte) []byte {
	t.Helper()
	p, err := primitive(DataKey(key))
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	w, err := p.NewEncryptingWriter(&ct, aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return ct.Bytes()
}

func tinkDecrypt(t *testing.T, key []byte, ct []byte) ([]byte, error) {
	t.Helper()
	p, err := primitive(DataKey(key))
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.NewDecryptingReader(bytes.NewReader(ct), aad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// makeSealVector computes the vector. Signing and Tink's header are
// randomized: the previous file's signature and ciphertext are kept while
// they still verify and decrypt to the same plaintext.
func makeSealVector(t *testing.T) sealVector {
	d := sha256.Sum256([]byte("sealnet test vector key: member"))
	fp := sha256.Sum256([]byte("sealnet test vector: creator certificate"))
	dk := sha256.Sum256([]byte("sealnet test vector: data key"))
	key := golden.Key(t, d[:])
	v := sealVector{
		Comment: "An object as stored: ciphertext = Tink streaming AEAD AES256_GCM_HKDF_1MB (HKDF-SHA256, 32-byte derived keys, 1 MiB segments) of plaintext " +
			"under data_key with associated_data (the header's salt and nonce prefix are random). plaintext = data || \"sealnet\\x01\" || owner_fingerprint || u64be(t1) || u64be(len(data)) || signature; " +
			"m1_digest = SHA-256(\"sealnet/m1/v1\\0\" || data || owner_fingerprint || u64be(t1) || u64be(len(data))); signature = ECDSA P-256 r||s, low S, by the owner over m1_digest " +
			"(randomized: check that it verifies). t1 is Unix ns.",
		PrivateKey: d[:], PublicKey: golden.PublicBytes(t, &key.PublicKey), Fingerprint: fp[:], T1: 1_700_000_000_123_456_789,
		Data: []byte("Wartungsprotokoll press-7: counter 5367\n"), DataKey: dk[:], AAD: string(aad),
	}
	v.Digest = m1(v.Data, v.Fingerprint, v.T1, uint64(len(v.Data)))
	var old sealVector
	hadOld := golden.LoadIfPresent(t, sealFile, &old)
	if hadOld && identity.Verify(&key.PublicKey, v.Digest, old.Signature) == nil {
		v.Signature = old.Signature
	} else {
		sig, err := identity.Sign(key, v.Digest)
		if err != nil {
			t.Fatal(err)
		}
		v.Signature = sig
	}
	v.Plaintext = plaintext(v.Data, v.Fingerprint, v.T1, v.Signature)
	if pt, err := tinkDecrypt(t, v.DataKey, old.Ciphertext); hadOld && err == nil && bytes.Equal(pt, v.Plaintext) {
		v.Ciphertext = old.Ciphertext
	} else {
		v.Ciphertext = tinkEncrypt(t, v.DataKey, v.Plaintext)
	}
	return v
}

func TestSealVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, sealFile, makeSealVector(t))
	}
	var v sealVector
	golden.Load(t, sealFile, &v)
	key := golden.Key(t, v.PrivateKey)
	golden.Equal(t, "public key", golden.PublicBytes(t, &key.PublicKey), v.PublicKey)
	if v.AAD != string(aad) {
		t.Errorf("associated data %q, the code uses %q", v.AAD, aad)
	}
	var fp identity.Fingerprint
	copy(fp[:], v.Fingerprint)
	tail := m1Tail(fp, v.T1, uint64(len(v.Data)))
	h := newM1()
	h.Write(v.Data)
	h.Write(tail)
	golden.Equal(t, "M1 digest", h.Sum(nil), v.Digest)
	golden.Equal(t, "documented M1 digest", m1(v.Data, v.Fingerprint, v.T1, uint64(len(v.Data))), v.Digest)
	if err := identity.Verify(&key.PublicKey, v.Digest, v.Signature); err != nil {
		t.Errorf("the vector's signature: %v", err)
	}
	golden.Equal(t, "plaintext", plaintext(v.Data, v.Fingerprint, v.T1, v.Signature), v.Plaintext)
	pt, err := tinkDecrypt(t, v.DataKey, v.Ciphertext)
	if err != nil {
		t.Fatalf("the vector's ciphertext: %v", err)
	}
	golden.Equal(t, "decrypted plaintext", pt, v.Plaintext)

	// the code's reader accepts the pinned object
	owner := &identity.Member{Cert: &x509.Certificate{PublicKey: &key.PublicKey}, Fingerprint: fp}
	r, err := Decrypt(bytes.NewReader(v.Ciphertext), DataKey(v.DataKey), owner)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	golden.Equal(t, "data", data, v.Data)
	if info := r.Info(); info.Owner != fp || info.T1.UnixNano() != v.T1 || info.Size != uint64(len(v.Data)) {
		t.Errorf("trailer %+v", info)
	}

	// and its writer makes the same plaintext layout (with a fresh signature)
	self := &identity.Identity{Key: key, Member: owner}
	var ct bytes.Buffer
	w, err := Encrypt(&ct, DataKey(v.DataKey), self, time.Unix(0, v.T1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(v.Data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(ct.Bytes()) != len(v.Ciphertext) {
		t.Errorf("Encrypt makes %d bytes, the vector has %d", ct.Len(), len(v.Ciphertext))
	}
	fresh, err := tinkDecrypt(t, v.DataKey, ct.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	n := len(v.Plaintext) - identity.SignatureSize
	golden.Equal(t, "Encrypt's plaintext before the signature", fresh[:n], v.Plaintext[:n])
	if err := identity.Verify(&key.PublicKey, v.Digest, fresh[n:]); err != nil {
		t.Errorf("Encrypt's signature: %v", err)
	}
}
