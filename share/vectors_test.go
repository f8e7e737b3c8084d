package share

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/golden"
)

// shareVector is docs/vectors/share.json: a key request, its grant and a
// denial, each signed and HPKE-sealed.
type shareVector struct {
	Comment   string     `json:"comment"`
	Requester vecMember  `json:"requester"`
	Owner     vecMember  `json:"owner"`
	HPKE      vecSuite   `json:"hpke"`
	Request   vecMessage `json:"request"`
	Grant     vecMessage `json:"grant"`
	Denial    vecMessage `json:"denial"`
}

type vecMember struct {
	PrivateKey  golden.Hex `json:"private_key"`
	PublicKey   golden.Hex `json:"public_key"`
	Fingerprint golden.Hex `json:"fingerprint"`
}

type vecSuite struct {
	KEM  uint16 `json:"kem_id"`
	KDF  uint16 `json:"kdf_id"`
	AEAD uint16 `json:"aead_id"`
	Info string `json:"info"`
}

// vecMessage is one signed, sealed message: its Request or Answer fields,
// the canonical body, the signed digest and the signature, the Signed
// encoding and its hash, and the HPKE encryption of Signed to the
// addressee with a fixed ephemeral key.
type vecMessage struct {
	Request      *vecRequest `json:"request,omitempty"`
	Answer       *vecAnswer  `json:"answer,omitempty"`
	Body         golden.Hex  `json:"body"`
	Digest       golden.Hex  `json:"digest"`
	Signature    golden.Hex  `json:"signature"`
	Signed       golden.Hex  `json:"signed"`
	Hash         golden.Hex  `json:"hash"`
	To           string      `json:"sealed_to"`
	EphemeralKey golden.Hex  `json:"ephemeral_private_key"`
	Enc          golden.Hex  `json:"enc"`
	Sealed       golden.Hex  `json:"sealed"`
}

type vecRequest struct {
	Channel   string     `json:"channel"`
	Requester golden.Hex `json:"requester"`
	Owner     golden.Hex `json:"owner"`
	Time      int64      `json:"time"`
	HashData  string     `json:"hash_data"`
	TXNumber  golden.Hex `json:"tx_number"`
	Nonce     golden.Hex `json:"nonce"`
}

type vecAnswer struct {
	Request   golden.Hex `json:"request"`
	Owner     golden.Hex `json:"owner"`
	Requester golden.Hex `json:"requester"`
	Time      int64      `json:"time"`
	Key       golden.Hex `json:"key"`
	Denied    string     `json:"denied"`
	Message   string     `json:"message"`
}

func (r *vecRequest) value() Request {
	return Request{Channel: r.Channel, Requester: r.Requester, Owner: r.Owner, Time: r.Time, HashData: r.HashData, TXNumber: r.TXNumber, Nonce: r.Nonce}
}

func (a *vecAnswer) value() Answer {
	return Answer{Request: a.Request, Owner: a.Owner, Requester: a.Requester, Time: a.Time, Key: a.Key, Denied: a.Denied, Message: a.Message}
}

// The HPKE suite of the key transfer (RFC 9180 identifiers).
const (
	kemP256    = 0x0010 // DHKEM(P-256, HKDF-SHA256)
	kdfSHA256  = 0x0001 // HKDF-SHA256
	aeadAES256 = 0x0002 // AES-256-GCM
)

// hpkeSeal is RFC 9180's single-shot base-mode seal with the suite above
// and a given ephemeral key, written from the RFC, independently of
// crypto/hpke (which draws the ephemeral key itself). It returns enc and
// enc || ciphertext, the layout of SealTo.
func hpkeSeal(t testing.TB, skE *ecdh.PrivateKey, pkR *ecdh.PublicKey, info string, pt []byte) (enc, sealed []byte) {
	t.Helper()
	dh, err := skE.ECDH(pkR)
	if err != nil {
		t.Fatal(err)
	}
	enc = skE.PublicKey().Bytes()
	aead := hpkeContext(t, dh, enc, pkR.Bytes(), info)
	return enc, append(append([]byte{}, enc...), aead.Seal(nil, aead.nonce, pt, nil)...)
}

// hpkeOpen is the recipient's side of hpkeSeal.
func hpkeOpen(t testing.TB, skR *ecdh.PrivateKey, info string, sealed []byte) ([]byte, error) {
	t.Helper()
	if len(sealed) < 65 {
		return nil, errors.New("too short")
	}
	pkE, err := ecdh.P256().NewPublicKey(sealed[:65])
	if err != nil {
		return nil, err
	}
	dh, err := skR.ECDH(pkE)
	if err != nil {
		return nil, err
	}
	aead := hpkeContext(t, dh, sealed[:65], skR.PublicKey().Bytes(), info)
	return aead.Open(nil, aead.nonce, sealed[65:], nil)
}

type hpkeAEAD struct {
	cipher.AEAD
	nonce []byte
}

func hpkeContext(t testing.TB, dh, enc, pkR []byte, info string) hpkeAEAD {
	t.Helper()
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	u16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	extract := func(suite []byte, salt []byte, label string, ikm []byte) []byte {
		return must(hkdf.Extract(sha256.New, cat([]byte("HPKE-v1"), suite, []byte(label), ikm), salt))
	}
	expand := func(suite []byte, prk []byte, label string, info []byte, n uint16) []byte {
		return must(hkdf.Expand(sha256.New, prk, string(cat(u16(n), []byte("HPKE-v1"), suite, []byte(label), info)), int(n)))
	}
	// DHKEM: ExtractAndExpand
	kemSuite := cat([]byte("KEM"), u16(kemP256))
	shared := expand(kemSuite, extract(kemSuite, nil, "eae_prk", dh), "shared_secret", cat(enc, pkR), 32)
	// key schedule, base mode, no PSK
	suite := cat([]byte("HPKE"), u16(kemP256), u16(kdfSHA256), u16(aeadAES256))
	ctx := cat([]byte{0}, extract(suite, nil, "psk_id_hash", nil), extract(suite, nil, "info_hash", []byte(info)))
	secret := extract(suite, shared, "secret", nil)
	block, err := aes.NewCipher(expand(suite, secret, "key", ctx, 32))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return hpkeAEAD{AEAD: gcm, nonce: expand(suite, secret, "base_nonce", ctx, 12)} // first message: sequence number 0
}

func vecKey(t testing.TB, label string) (*ecdsa.PrivateKey, []byte) {
	d := sha256.Sum256([]byte("sealnet test vector key: " + label))
	return golden.Key(t, d[:]), d[:]
}

func ecdhKey(t testing.TB, d []byte) *ecdh.PrivateKey {
	k, err := ecdh.P256().NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecdhPub(t testing.TB, k *ecdsa.PublicKey) *ecdh.PublicKey {
	p, err := k.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const shareFile = "share.json"

// makeShareVector computes the vector. ECDSA signing is randomized: a
// signature of the previous file that still verifies over the same digest
// is kept, otherwise the body is signed afresh. The HPKE encryptions use
// fixed ephemeral keys and are deterministic.
func makeShareVector(t *testing.T) shareVector {
	var old shareVector
	hadOld := golden.LoadIfPresent(t, shareFile, &old)
	aKey, aD := vecKey(t, "requester")
	bKey, bD := vecKey(t, "owner")
	aFP := sha256.Sum256([]byte("sealnet test vector: requester certificate"))
	bFP := sha256.Sum256([]byte("sealnet test vector: owner certificate"))
	v := shareVector{
		Comment: "Key transfer (/sealnet/keyreq/1). body = canonical CBOR of the request or answer (integer keys 1-7); " +
			"digest = SHA-256(domain || body) with domain \"sealnet/keyreq/v1\\0\" (request) or \"sealnet/keyans/v1\\0\" (answer); " +
			"signature = ECDSA P-256 r||s, low S, by the sender over digest (randomized: check that it verifies); signed = canonical CBOR {1: body, 2: signature}; " +
			"hash = SHA-256(signed), which the answer's field 1 and the chain's index.keyrequest/keyanswer carry; " +
			"sealed = enc || ciphertext, RFC 9180 base-mode single-shot seal of signed to the addressee's key with the suite and info of \"hpke\", " +
			"no AAD, here with the given ephemeral private key (in use it is random). Fingerprints stand for SHA-256 of the members' certificates.",
		Requester: vecMember{PrivateKey: aD, PublicKey: golden.PublicBytes(t, &aKey.PublicKey), Fingerprint: aFP[:]},
		Owner:     vecMember{PrivateKey: bD, PublicKey: golden.PublicBytes(t, &bKey.PublicKey), Fingerprint: bFP[:]},
		HPKE:      vecSuite{KEM: kemP256, KDF: kdfSHA256, AEAD: aeadAES256, Info: hpkeInfo},
	}
	txn := sha256.Sum256([]byte("sealnet test vector: index entry transaction"))
	nonce := sha256.Sum256([]byte("sealnet test vector: request nonce"))
	dataKey := sha256.Sum256([]byte("sealnet test vector: data key"))
	const t0 = 1_700_000_000_123_456_789

	build := func(m *vecMessage, oldSig []byte, domain string, value any, signer *ecdsa.PrivateKey, to string, pkR *ecdsa.PublicKey, eph string) {
		m.Body = canon.MustMarshal(value)
		m.Digest = digest(domain, m.Body)
		if hadOld && identity.Verify(&signer.PublicKey, m.Digest, oldSig) == nil {
			m.Signature = oldSig
		} else {
			sig, err := identity.Sign(signer, m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			m.Signature = sig
		}
		m.Signed = canon.MustMarshal(Signed{Body: m.Body, Sig: m.Signature})
		h := sha256.Sum256(m.Signed)
		m.Hash = h[:]
		e := sha256.Sum256([]byte("sealnet test vector key: hpke ephemeral " + eph))
		m.To, m.EphemeralKey = to, e[:]
		m.Enc, m.Sealed = hpkeSeal(t, ecdhKey(t, e[:]), ecdhPub(t, pkR), hpkeInfo, m.Signed)
	}
	v.Request.Request = &vecRequest{Channel: "default", Requester: aFP[:], Owner: bFP[:], Time: t0,
		HashData: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", TXNumber: txn[:], Nonce: nonce[:16]}
	build(&v.Request, old.Request.Signature, requestDomain, v.Request.Request.value(), aKey, "owner", &bKey.PublicKey, "request")
	v.Grant.Answer = &vecAnswer{Request: v.Request.Hash, Owner: bFP[:], Requester: aFP[:], Time: t0 + 1_500_000_000, Key: dataKey[:]}
	build(&v.Grant, old.Grant.Signature, answerDomain, v.Grant.Answer.value(), bKey, "requester", &aKey.PublicKey, "grant")
	v.Denial.Answer = &vecAnswer{Request: v.Request.Hash, Owner: bFP[:], Requester: aFP[:], Time: t0 + 1_600_000_000,
		Denied: DenyPurged, Message: "the owner purged the object at height 42"}
	build(&v.Denial, old.Denial.Signature, answerDomain, v.Denial.Answer.value(), bKey, "requester", &aKey.PublicKey, "denial")
	return v
}

func TestShareVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, shareFile, makeShareVector(t))
	}
	var v shareVector
	golden.Load(t, shareFile, &v)
	if v.Request.Request == nil || v.Grant.Answer == nil || v.Denial.Answer == nil {
		t.Fatal("the vector lacks a request, grant or denial")
	}
	if v.HPKE != (vecSuite{KEM: kemP256, KDF: kdfSHA256, AEAD: aeadAES256, Info: hpkeInfo}) {
		t.Errorf("HPKE suite %+v differs from the code's (info %q)", v.HPKE, hpkeInfo)
	}
	member := func(m vecMember) *identity.Identity {
		k := golden.Key(t, m.PrivateKey)
		golden.Equal(t, "public key", golden.PublicBytes(t, &k.PublicKey), m.PublicKey)
		var fp identity.Fingerprint
		copy(fp[:], m.Fingerprint)
		return &identity.Identity{Key: k, Member: &identity.Member{ID: "m", Org: "org1", Role: identity.RoleClient,
			Cert: &x509.Certificate{PublicKey: &k.PublicKey}, Fingerprint: fp}}
	}
	a, b := member(v.Requester), member(v.Owner)
	keyOf := map[string]*identity.Identity{"requester": a, "owner": b}

	check := func(name string, m vecMessage, domain string, value any, into any, signer *identity.Identity) {
		t.Helper()
		body, err := canon.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		golden.Equal(t, name+" body", body, m.Body)
		golden.Equal(t, name+" digest", digest(domain, m.Body), m.Digest)
		s := &Signed{Body: m.Body, Sig: m.Signature}
		if err := verify(s, domain, &signer.Key.PublicKey); err != nil {
			t.Errorf("%s signature: %v", name, err)
		}
		golden.Equal(t, name+" signed", canon.MustMarshal(Signed{Body: m.Body, Sig: m.Signature}), m.Signed)
		h := sha256.Sum256(m.Signed)
		golden.Equal(t, name+" hash", h[:], m.Hash)
		ds, err := decodeSigned(m.Signed, into)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		golden.Equal(t, name+" decoded signature", ds.Sig, m.Signature)
		if got := reflect.ValueOf(into).Elem().Interface(); !reflect.DeepEqual(got, value) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, value)
		}

		// HPKE: the fixed ephemeral key gives the pinned bytes, the
		// addressee opens them, and SealTo seals the same way
		to := keyOf[m.To]
		if to == nil {
			t.Fatalf("%s sealed to %q", name, m.To)
		}
		eph := ecdhKey(t, m.EphemeralKey)
		golden.Equal(t, name+" enc", eph.PublicKey().Bytes(), m.Enc)
		_, sealed := hpkeSeal(t, eph, ecdhPub(t, &to.Key.PublicKey), v.HPKE.Info, m.Signed)
		golden.Equal(t, name+" sealed", sealed, m.Sealed)
		golden.Equal(t, name+" enc prefix", m.Sealed[:len(m.Enc)], m.Enc)
		pt, err := OpenWith(to.Key, m.Sealed)
		if err != nil {
			t.Errorf("%s: OpenWith: %v", name, err)
		}
		golden.Equal(t, name+" opened", pt, m.Signed)
		fresh, err := SealTo(&to.Key.PublicKey, m.Signed)
		if err != nil {
			t.Fatal(err)
		}
		if len(fresh) != len(m.Sealed) {
			t.Errorf("%s: SealTo makes %d bytes, the vector has %d", name, len(fresh), len(m.Sealed))
		}
		skR, err := to.Key.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := hpkeOpen(t, skR, v.HPKE.Info, fresh); err != nil || string(pt) != string(m.Signed) {
			t.Errorf("%s: SealTo's output does not open as RFC 9180 with the vector's suite and info: %v", name, err)
		}
	}
	check("request", v.Request, requestDomain, v.Request.Request.value(), &Request{}, a)
	check("grant", v.Grant, answerDomain, v.Grant.Answer.value(), &Answer{}, b)
	check("denial", v.Denial, answerDomain, v.Denial.Answer.value(), &Answer{}, b)

	// the protocol's own receiving paths accept the pinned bytes
	ver := &Verifier{Self: b, Tau: time.Minute, Resolve: func(channel string, fp identity.Fingerprint) (*identity.Member, bool, error) {
		if channel != v.Request.Request.Channel || fp != a.Member.Fingerprint {
			return nil, false, errors.New("not enrolled")
		}
		return a.Member, false, nil
	}}
	in, err := ver.OpenRequest(v.Request.Sealed, time.Unix(0, v.Request.Request.Time))
	if err != nil {
		t.Fatalf("OpenRequest: %v", err)
	}
	golden.Equal(t, "incoming request hash", in.Hash, v.Request.Hash)
	golden.Equal(t, "incoming request signature", in.Signature, v.Request.Signature)
	for _, m := range []vecMessage{v.Grant, v.Denial} {
		ans, err := OpenAnswer(a, b.Member, v.Request.Hash, m.Sealed, time.Unix(0, m.Answer.Time), time.Minute)
		if err != nil {
			t.Fatalf("OpenAnswer: %v", err)
		}
		if want := m.Answer.value(); !reflect.DeepEqual(*ans, want) {
			t.Errorf("OpenAnswer gave %+v, want %+v", *ans, want)
		}
	}
}
