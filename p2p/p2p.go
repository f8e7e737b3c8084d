// Package p2p is the node's libp2p host. Its identity is the node's
// certified P-256 key, so its peer ID is bound to a certificate registered
// on chain, and its connection gater admits only peers whose certificates
// are enrolled and unrevoked on a channel this node hosts (plus peers an
// operator lists explicitly, such as a Kubo node for interop).
package p2p

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sealnet/sealnet/identity"
)

// PeerID returns the libp2p peer ID of a P-256 public key.
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

// Member is what the gate knows of an admitted peer.
type Member struct {
	ID       string // member ID
	Org      string
	Role     identity.Role
	Channels map[string]bool // channels whose registry enrolls it
}

// Listed reports whether id was admitted by Allow (not by membership).
func (g *Gate) Listed(id peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.extra[id]
}

// Gate admits peers by membership. Update replaces the member set (the
// node calls it when a registry changes); Allow adds operator-listed peers.
type Gate struct {
	log     *slog.Logger
	mu      sync.RWMutex
	members map[peer.ID]Member
	extra   map[peer.ID]bool
}

// NewGate returns a gate that admits nobody yet.
func NewGate(log *slog.Logger) *Gate {
	return &Gate{log: log, members: map[peer.ID]Member{}, extra: map[peer.ID]bool{}}
}

// Update sets the members.
func (g *Gate) Update(m map[peer.ID]Member) {
	g.mu.Lock()
	g.members = m
	g.mu.Unlock()
}

// Allow admits a peer that is not a member (a reference Kubo node).
func (g *Gate) Allow(id peer.ID) {
	g.mu.Lock()
	g.extra[id] = true
	g.mu.Unlock()
}

// NodesOf returns the peers of an org's nodes (members of role node), in
// a stable order.
func (g *Gate) NodesOf(org string) []peer.ID {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []peer.ID
	for id, m := range g.members {
		if m.Org == org && m.Role == identity.RoleNode {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Lookup returns the member behind a peer ID.
func (g *Gate) Lookup(id peer.ID) (Member, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	m, ok := g.members[id]
	return m, ok
}

func (g *Gate) admits(id peer.ID) bool {
	g.mu.RLock()
	_, ok := g.members[id]
	ok = ok || g.extra[id]
	g.mu.RUnlock()
	if !ok {
		g.log.Warn("refused a peer that is not an enrolled member", "peer", id)
	}
	return ok
}

// InterceptPeerDial implements connmgr.ConnectionGater.
func (g *Gate) InterceptPeerDial(p peer.ID) bool { return g.admits(p) }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (g *Gate) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept implements connmgr.ConnectionGater: the peer is not known
// before the security handshake, so the check happens in InterceptSecured.
func (g *Gate) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater: the peer has proven
// its key.
func (g *Gate) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.admits(p)
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (g *Gate) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// NewHost starts a libp2p host with key as its identity, listening on
// listen (multiaddrs), admitting peers through gate.
func NewHost(key *ecdsa.PrivateKey, listen []string, gate *Gate) (host.Host, error) {
	priv, _, err := crypto.ECDSAKeyPairFromKey(key)
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
