package p2p

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
)

// Refresh replaces the gate's members with the certificates of the
// channels' registries (channel name to its enrolled certificates, with
// their DER): every unrevoked certificate is a peer, under its bound
// libp2p key's ID (or its P-256 key's, before it was bound), a member of
// each channel that enrolls it. The node calls it at start, when it
// starts hosting a channel and after each block that changed a registry.
func (g *Gate) Refresh(registries map[string][]registry.Cert) {
	members := map[peer.ID]Member{}
	known := map[peer.ID]string{}
	moved := map[peer.ID]peer.ID{}
	for channel, certs := range registries {
		for _, rec := range certs {
			m, err := identity.ParseMember(rec.DER)
			if err != nil {
				continue
			}
			pid, err := PeerOfCert(rec)
			if err != nil {
				g.log.Error("p2p: a registry record names no usable key", "channel", channel, "member", m.ID, "org", m.Org, "err", err)
				continue
			}
			legacy, _ := PeerID(m.Cert.PublicKey.(*ecdsa.PublicKey))
			if rec.Revoked != nil {
				known[pid] = fmt.Sprintf("the certificate of %s@%s that certifies its key is revoked", m.ID, m.Org)
				continue
			}
			if legacy != pid {
				moved[legacy] = pid
				known[legacy] = fmt.Sprintf("it is the former peer ID of %s@%s, whose certificate is now bound to libp2p key %s", m.ID, m.Org, pid)
			}
			pm, ok := members[pid]
			if !ok {
				pm = Member{ID: m.ID, Org: m.Org, Role: m.Role, Channels: map[string]bool{}}
			}
			pm.Channels[channel] = true
			members[pid] = pm
		}
	}
	g.mu.Lock()
	g.members, g.known, g.moved = members, known, moved
	g.forgetAdmitted()
	g.mu.Unlock()
}

// Admits reports whether peer p may have a block tagged with channels: an
// operator-listed peer may, and so may a member of any of those channels.
func (g *Gate) Admits(p peer.ID, channels []string) bool {
	if g.Listed(p) {
		return true
	}
	m, ok := g.Lookup(p)
	if !ok {
		return false
	}
	for _, ch := range channels {
		if m.Channels[ch] {
			return true
		}
	}
	return false
}

// Refresher runs a refresh whenever it is poked, one at a time, in one
// goroutine: a refresh reads the latest committed registries, so a newer
// member set is never replaced by an older one (as goroutines started per
// block could do, finishing out of order), and pokes that come while a
// refresh runs fold into one more run after it, so none is lost.
type Refresher struct {
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// NewRefresher starts the goroutine that runs refresh on each Poke.
func NewRefresher(refresh func()) *Refresher {
	r := &Refresher{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			case <-r.wake:
				refresh()
			}
		}
	}()
	return r
}

// Poke asks for a refresh; it never blocks.
func (r *Refresher) Poke() {
	select {
	case r.wake <- struct{}{}:
	default: // one is pending already: it will read the latest state
	}
}

// Close stops the refresher and waits for a refresh in progress.
func (r *Refresher) Close() {
	close(r.stop)
	<-r.done
}
