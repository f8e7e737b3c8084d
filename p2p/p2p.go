// Package p2p is the node's libp2p host. Its identity is an Ed25519 key
// that the registry binds to the node's certificate (registry.bind_p2p_key,
// or the genesis), so its peer ID is bound to a certificate on chain; a
// node whose home predates the binding is still reached under its
// certificate's P-256 key. The connection gater admits only peers whose
// keys belong to enrolled, unrevoked certificates of a channel this node
// hosts, plus peers an operator lists explicitly (a Kubo or Helia node for
// interop).
package p2p

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
)

// PeerID returns the libp2p peer ID of a P-256 public key: the peer ID of
// a node whose certificate binds no libp2p key.
func PeerID(pub *ecdsa.PublicKey) (peer.ID, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	pk, err := crypto.UnmarshalECDSAPublicKey(der)
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pk)
}

// PeerOfKey returns the peer ID of an Ed25519 libp2p public key.
func PeerOfKey(pub []byte) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pk)
}

// PeerOfCert returns the peer ID under which the holder of an enrolled
// certificate is reached: its bound libp2p key's, else (a node whose home
// predates the binding) its certificate key's.
func PeerOfCert(rec registry.Cert) (peer.ID, error) {
	if len(rec.P2PKey) > 0 {
		return PeerOfKey(rec.P2PKey)
	}
	m, err := identity.ParseMember(rec.DER)
	if err != nil {
		return "", err
	}
	return PeerID(m.Cert.PublicKey.(*ecdsa.PublicKey))
}

// HostKey returns the libp2p form of a host's key: a node's Ed25519
// libp2p key, or the P-256 key of a node whose home predates it.
func HostKey(key any) (crypto.PrivKey, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return crypto.UnmarshalEd25519PrivateKey(k)
	case *ecdsa.PrivateKey:
		priv, _, err := crypto.ECDSAKeyPairFromKey(k)
		return priv, err
	}
	return nil, fmt.Errorf("host key is %T, want Ed25519 or ECDSA P-256", key)
}

// NewHost starts a libp2p host with key as its identity (see HostKey),
// listening on listen (multiaddrs), admitting peers through gate.
func NewHost(key any, listen []string, gate *Gate) (host.Host, error) {
	priv, err := HostKey(key)
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings(listen...),
		libp2p.ConnectionGater(gate),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}
