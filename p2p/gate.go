package p2p

import (
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sealnet/sealnet/identity"
)

// Member is what the gate knows of an admitted peer.
type Member struct {
	ID       string // member ID
	Org      string
	Role     identity.Role
	Channels map[string]bool // channels whose registry enrolls it
}

// maxLogged bounds the refusals remembered so that each peer's is logged
// once: a peer can make new IDs at will, the log and memory must not grow
// with them.
const maxLogged = 4096

// Gate admits peers by membership. Update (or Refresh) replaces the member
// set, which the node recomputes when a registry changes; Allow adds
// operator-listed peers. A refused peer is logged once with the reason,
// not at every attempt.
type Gate struct {
	log     *slog.Logger
	mu      sync.RWMutex
	members map[peer.ID]Member
	extra   map[peer.ID]bool
	known   map[peer.ID]string // refused for a known reason: revoked, or a node's former ID
	moved   map[peer.ID]peer.ID
	logged  map[peer.ID]string // refusals logged, with their reason
	refused atomic.Int64       // refusals, logged or not
}

// NewGate returns a gate that admits nobody yet.
func NewGate(log *slog.Logger) *Gate {
	return &Gate{log: log, members: map[peer.ID]Member{}, extra: map[peer.ID]bool{},
		known: map[peer.ID]string{}, moved: map[peer.ID]peer.ID{}, logged: map[peer.ID]string{}}
}

// Update sets the members.
func (g *Gate) Update(m map[peer.ID]Member) {
	g.mu.Lock()
	g.members = m
	g.forgetAdmitted()
	g.mu.Unlock()
}

// forgetAdmitted drops the logged refusals of peers now admitted, so that
// a later refusal of one is logged again.
func (g *Gate) forgetAdmitted() {
	for id := range g.logged {
		if _, ok := g.members[id]; ok || g.extra[id] {
			delete(g.logged, id)
		}
	}
}

// Allow admits a peer that is not a member (a reference Kubo or Helia
// node).
func (g *Gate) Allow(id peer.ID) {
	g.mu.Lock()
	g.extra[id] = true
	g.forgetAdmitted()
	g.mu.Unlock()
}

// Listed reports whether id was admitted by Allow (not by membership).
func (g *Gate) Listed(id peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.extra[id]
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

// Current returns the peer ID a node is reached under now: for the
// former peer ID of a node whose certificate has since been bound to a
// libp2p key (an old p2p.peers entry), that key's; else id itself.
func (g *Gate) Current(id peer.ID) peer.ID {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if to, ok := g.moved[id]; ok {
		return to
	}
	return id
}

// Refusals of peers the gate does not admit.
const (
	reasonUncertified = "its key is bound to no enrolled certificate of a channel this node hosts, and p2p.allow_peers does not list it"
)

func (g *Gate) admits(id peer.ID) bool {
	g.mu.RLock()
	_, ok := g.members[id]
	ok = ok || g.extra[id]
	reason, logged := "", false
	if !ok {
		reason = g.known[id]
		if reason == "" {
			reason = reasonUncertified
		}
		logged = g.logged[id] == reason
	}
	g.mu.RUnlock()
	if !ok {
		g.refused.Add(1)
	}
	if ok || logged {
		return ok
	}
	g.mu.Lock()
	if len(g.logged) >= maxLogged {
		clear(g.logged)
	}
	g.logged[id] = reason
	g.mu.Unlock()
	g.log.Warn("p2p: refused a peer (logged once per peer)", "peer", id, "reason", reason)
	return false
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
