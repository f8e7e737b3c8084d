package envelope

import (
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/golden"
)

// envelopeVector is docs/vectors/envelope.json.
type envelopeVector struct {
	Comment    string        `json:"comment"`
	PrivateKey golden.Hex    `json:"private_key"`
	PublicKey  golden.Hex    `json:"public_key"`
	Payload    payloadFields `json:"payload"`
	PayloadRaw golden.Hex    `json:"payload_cbor"`
	Digest     golden.Hex    `json:"digest"`
	Signature  golden.Hex    `json:"signature"`
	Envelope   golden.Hex    `json:"envelope_cbor"`
	TxID       golden.Hex    `json:"tx_id"`
}

type payloadFields struct {
	Channel   string     `json:"channel"`
	Contract  string     `json:"contract"`
	Method    string     `json:"method"`
	Args      golden.Hex `json:"args"`
	Creator   golden.Hex `json:"creator"`
	Nonce     uint64     `json:"nonce"`
	Timestamp int64      `json:"timestamp"`
}

func (f payloadFields) payload() Payload {
	return Payload{Channel: f.Channel, Contract: f.Contract, Method: f.Method, Args: f.Args,
		Creator: f.Creator, Nonce: f.Nonce, Timestamp: f.Timestamp}
}

const envelopeFile = "envelope.json"

// makeEnvelopeVector computes the vector from fixed inputs. ECDSA signing
// is randomized, so a signature of the previous file that still verifies
// over the same digest is kept; otherwise the payload is signed afresh.
func makeEnvelopeVector(t *testing.T) envelopeVector {
	d := sha256.Sum256([]byte("sealnet test vector key: member"))
	creator := sha256.Sum256([]byte("sealnet test vector: creator certificate"))
	key := golden.Key(t, d[:])
	cond := sha256.Sum256([]byte("a condition hash"))
	f := payloadFields{Channel: "default", Contract: "condition", Method: "submit",
		Args:    canon.MustMarshal(map[string]any{"id": "press-7-maintenance", "hash": cond[:]}),
		Creator: creator[:], Nonce: 0x0123456789abcdef, Timestamp: 1_700_000_000_123_456_789}
	body := canon.MustMarshal(f.payload())
	var old envelopeVector
	var sig []byte
	if golden.LoadIfPresent(t, envelopeFile, &old) && identity.Verify(&key.PublicKey, Digest(body), old.Signature) == nil {
		sig = old.Signature
	} else {
		raw, err := Sign(f.payload(), key)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := Decode(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		sig = tx.Signature
	}
	env := canon.MustMarshal(Envelope{Payload: body, Signature: sig})
	id := IDOf(env)
	return envelopeVector{
		Comment: "A signed transaction envelope. payload_cbor is the canonical CBOR of payload; digest = SHA-256(\"sealnet/tx/v1\\0\" || payload_cbor); " +
			"signature is ECDSA P-256 r||s (low S) by private_key over digest (randomized: check that it verifies); envelope_cbor = canonical CBOR {1: payload_cbor, 2: signature}; tx_id = SHA-256(envelope_cbor).",
		PrivateKey: d[:], PublicKey: golden.PublicBytes(t, &key.PublicKey), Payload: f, PayloadRaw: body,
		Digest: Digest(body), Signature: sig, Envelope: env, TxID: id[:],
	}
}

func TestEnvelopeVectors(t *testing.T) {
	if golden.Updating() {
		golden.Save(t, envelopeFile, makeEnvelopeVector(t))
	}
	var v envelopeVector
	golden.Load(t, envelopeFile, &v)
	key := golden.Key(t, v.PrivateKey)
	golden.Equal(t, "public key", golden.PublicBytes(t, &key.PublicKey), v.PublicKey)

	// encode from the inputs
	body, err := canon.Marshal(v.Payload.payload())
	if err != nil {
		t.Fatal(err)
	}
	golden.Equal(t, "payload bytes", body, v.PayloadRaw)
	golden.Equal(t, "signing digest", Digest(v.PayloadRaw), v.Digest)
	if err := identity.Verify(&key.PublicKey, v.Digest, v.Signature); err != nil {
		t.Errorf("the vector's signature: %v", err)
	}
	env, err := canon.Marshal(Envelope{Payload: v.PayloadRaw, Signature: v.Signature})
	if err != nil {
		t.Fatal(err)
	}
	golden.Equal(t, "envelope bytes", env, v.Envelope)
	id := IDOf(v.Envelope)
	golden.Equal(t, "transaction ID", id[:], v.TxID)

	// decode the vector's bytes
	tx, err := Decode(v.Envelope, DefaultMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tx.Payload, v.Payload.payload()) {
		t.Errorf("decoded payload %+v, want %+v", tx.Payload, v.Payload.payload())
	}
	golden.Equal(t, "decoded body", tx.Body, v.PayloadRaw)
	golden.Equal(t, "decoded signature", tx.Signature, v.Signature)
	golden.Equal(t, "decoded ID", tx.ID[:], v.TxID)
	golden.Equal(t, "decoded creator", tx.Creator[:], v.Payload.Creator)
	if err := tx.VerifySignature(&key.PublicKey); err != nil {
		t.Errorf("decoded envelope: %v", err)
	}
}
