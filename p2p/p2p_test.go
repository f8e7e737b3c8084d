package p2p

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/sealnet/sealnet/identity"
)

// newHost starts a host on a fresh Ed25519 libp2p key.
func newHost(t *testing.T, g *Gate) (host.Host, peer.ID) {
	t.Helper()
	key, err := identity.NewP2PKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := PeerOfKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return startHost(t, key, id, g)
}

// newLegacyHost starts a host on a P-256 key, as a node whose home
// predates libp2p key bindings.
func newLegacyHost(t *testing.T, g *Gate) (host.Host, peer.ID) {
	t.Helper()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := PeerID(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return startHost(t, key, id, g)
}

func startHost(t *testing.T, key any, id peer.ID, g *Gate) (host.Host, peer.ID) {
	t.Helper()
	h, err := NewHost(key, []string{"/ip4/127.0.0.1/tcp/0"}, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if h.ID() != id {
		t.Fatalf("host ID %s differs from the key's peer ID %s", h.ID(), id)
	}
	return h, id
}

func TestGateAdmitsOnlyMembers(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ga, gb, gc := NewGate(log), NewGate(log), NewGate(log)
	a, ida := newHost(t, ga)
	b, idb := newLegacyHost(t, gb) // Ed25519 and P-256 hosts reach each other
	c, idc := newHost(t, gc)
	members := map[peer.ID]Member{ida: {ID: "node", Org: "org1"}, idb: {ID: "node", Org: "org2"}}
	for _, g := range []*Gate{ga, gb, gc} {
		g.Update(members)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: idb, Addrs: b.Addrs()}); err != nil {
		t.Fatalf("member to member: %v", err)
	}
	// c is no member: a refuses it, whoever dials
	if err := c.Connect(ctx, peer.AddrInfo{ID: ida, Addrs: a.Addrs()}); err == nil {
		time.Sleep(200 * time.Millisecond)
		if a.Network().Connectedness(idc) == 1 {
			t.Fatal("a non-member connected")
		}
	}
	if err := a.Connect(ctx, peer.AddrInfo{ID: idc, Addrs: c.Addrs()}); err == nil {
		t.Fatal("dialed a non-member")
	}
	// an operator-listed peer is admitted
	ga.Allow(idc)
	gc.Allow(ida)
	if err := a.Connect(ctx, peer.AddrInfo{ID: idc, Addrs: c.Addrs()}); err != nil {
		t.Fatalf("listed peer: %v", err)
	}
	if m, ok := ga.Lookup(idb); !ok || m.Org != "org2" {
		t.Fatalf("lookup %+v", m)
	}
}

// recorder is a log handler that keeps each record's message and
// attributes as one line.
type recorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.mu.Lock()
	r.recs = append(r.recs, line)
	r.mu.Unlock()
	return nil
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.recs...)
}

// A peer whose key no registry certifies is refused at every attempt, and
// logged once with the reason; the node goes on serving its members.
func TestUncertifiedPeerRefusedAndLoggedOnce(t *testing.T) {
	var logs recorder
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ga, gb, gc := NewGate(slog.New(&logs)), NewGate(quiet), NewGate(quiet)
	a, ida := newHost(t, ga)
	b, idb := newHost(t, gb)
	c, idc := newHost(t, gc)
	members := map[peer.ID]Member{ida: {ID: "node", Org: "org1"}, idb: {ID: "node", Org: "org2"}}
	ga.Update(members)
	gb.Update(members)
	gc.Allow(ida)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		c.Network().ClosePeer(ida)
		c.Network().(interface{ Backoff() *swarm.DialBackoff }).Backoff().Clear(ida)
		c.Connect(ctx, peer.AddrInfo{ID: ida, Addrs: a.Addrs()})
		deadline := time.Now().Add(5 * time.Second)
		for ga.refused.Load() <= int64(i) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := ga.refused.Load(); n < 3 {
		t.Fatalf("%d refusals of 3 attempts", n)
	}
	if a.Network().Connectedness(idc) == network.Connected {
		t.Fatal("an uncertified peer is connected")
	}
	got := logs.lines()
	if len(got) != 1 || !strings.Contains(got[0], idc.String()) || !strings.Contains(got[0], "p2p.allow_peers") {
		t.Fatalf("refusals logged: %q", got)
	}
	if err := a.Connect(ctx, peer.AddrInfo{ID: idb, Addrs: b.Addrs()}); err != nil {
		t.Fatalf("a member after the refusals: %v", err)
	}
}
