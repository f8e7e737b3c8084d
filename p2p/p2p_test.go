package p2p

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/identity"
)

func newHost(t *testing.T, g *Gate) (host.Host, peer.ID) {
	t.Helper()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := PeerID(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
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
	b, idb := newHost(t, gb)
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
