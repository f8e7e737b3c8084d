// Package hpkep256 is sealnet's one HPKE suite (RFC 9180: DHKEM(P-256,
// HKDF-SHA256), HKDF-SHA256, AES-256-GCM) over the members' P-256 keys:
// the key transfer (share), a job's key release and its result (compute)
// all seal with it, each under its own info string.
package hpkep256

import (
	"crypto/ecdsa"
	"crypto/hpke"
)

// Suite is the KDF and AEAD of every sealnet HPKE message.
func Suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

// Recipient is pub as an HPKE recipient key.
func Recipient(pub *ecdsa.PublicKey) (hpke.PublicKey, error) {
	epub, err := pub.ECDH()
	if err != nil {
		return nil, err
	}
	return hpke.NewDHKEMPublicKey(epub)
}

// Private is key as an HPKE private key.
func Private(key *ecdsa.PrivateKey) (hpke.PrivateKey, error) {
	epriv, err := key.ECDH()
	if err != nil {
		return nil, err
	}
	return hpke.NewDHKEMPrivateKey(epriv)
}

// Seal encrypts msg to pub in one shot (the encapsulated key first).
func Seal(pub *ecdsa.PublicKey, info, msg []byte) ([]byte, error) {
	pk, err := Recipient(pub)
	if err != nil {
		return nil, err
	}
	kdf, aead := Suite()
	return hpke.Seal(pk, kdf, aead, info, msg)
}

// Open decrypts what Seal made for key's public half.
func Open(key *ecdsa.PrivateKey, info, sealed []byte) ([]byte, error) {
	sk, err := Private(key)
	if err != nil {
		return nil, err
	}
	kdf, aead := Suite()
	return hpke.Open(sk, kdf, aead, info, sealed)
}

// Sender starts a multi-message context to pub (for streams).
func Sender(pub *ecdsa.PublicKey, info []byte) (enc []byte, s *hpke.Sender, err error) {
	pk, err := Recipient(pub)
	if err != nil {
		return nil, nil, err
	}
	kdf, aead := Suite()
	return hpke.NewSender(pk, kdf, aead, info)
}

// Receiver opens a multi-message context that Sender started.
func Receiver(key *ecdsa.PrivateKey, enc, info []byte) (*hpke.Recipient, error) {
	sk, err := Private(key)
	if err != nil {
		return nil, err
	}
	kdf, aead := Suite()
	return hpke.NewRecipient(enc, sk, kdf, aead, info)
}
