package p2p

import (
	"crypto/ed25519"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
)

// The gate's members are the unrevoked certificates of the registries,
// each a member of the channels that enroll it; a block goes to a member
// of one of its channels or to a listed peer.
func TestRefreshFromRegistries(t *testing.T) {
	now := time.Now()
	ca, err := identity.NewCA("org1", now.Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, role identity.Role) (registry.Cert, peer.ID) {
		key, err := identity.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		csr, err := identity.NewCSR(key, name, "org1")
		if err != nil {
			t.Fatal(err)
		}
		der, err := ca.Issue(csr, role, now.Add(-time.Hour), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		id, err := PeerID(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return registry.Cert{DER: der}, id
	}
	nodeCert, nodeID := issue("node", identity.RoleNode)
	aliceCert, aliceID := issue("alice", identity.RoleClient)
	eveCert, eveID := issue("eve", identity.RoleClient)
	eveCert.Revoked = &registry.Revocation{}
	g := NewGate(slog.New(slog.NewTextHandler(io.Discard, nil)))
	g.Refresh(map[string][]registry.Cert{
		"default": {nodeCert, aliceCert, eveCert},
		"quality": {nodeCert},
	})
	if m, ok := g.Lookup(nodeID); !ok || m.ID != "node" || m.Role != identity.RoleNode || !m.Channels["default"] || !m.Channels["quality"] {
		t.Fatalf("node: %+v %v", m, ok)
	}
	if _, ok := g.Lookup(eveID); ok {
		t.Fatal("a revoked certificate is a member")
	}
	if got := g.NodesOf("org1"); len(got) != 1 || got[0] != nodeID {
		t.Fatalf("nodes of org1: %v", got)
	}
	for _, c := range []struct {
		p        peer.ID
		channels []string
		want     bool
	}{
		{nodeID, []string{"quality"}, true},
		{aliceID, []string{"quality"}, false},
		{aliceID, []string{"quality", "default"}, true},
		{aliceID, nil, false},
		{eveID, []string{"default"}, false},
	} {
		if got := g.Admits(c.p, c.channels); got != c.want {
			t.Errorf("admits %s to %v: %v", c.p, c.channels, got)
		}
	}
	key, _ := identity.NewKey()
	kubo, _ := PeerID(&key.PublicKey)
	g.Allow(kubo)
	if !g.Admits(kubo, nil) {
		t.Error("a listed peer was refused a block")
	}
	// refreshing replaces the set
	g.Refresh(map[string][]registry.Cert{"quality": {nodeCert}})
	if g.Admits(aliceID, []string{"default"}) {
		t.Error("a member of a channel no longer hosted kept its access")
	}
}

// Pokes from many goroutines run the refresh one at a time, and the last
// poke is always followed by a refresh that sees what it announced.
func TestRefresherRunsOneAtATimeAndLosesNoPoke(t *testing.T) {
	var running, maxRunning, version, seen atomic.Int64
	r := NewRefresher(func() {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		v := version.Load()
		time.Sleep(time.Millisecond)
		seen.Store(v)
		running.Add(-1)
	})
	defer r.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				version.Add(1)
				r.Poke()
			}
		}()
	}
	wg.Wait()
	final := version.Load()
	deadline := time.Now().Add(5 * time.Second)
	for seen.Load() != final && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := seen.Load(); got != final {
		t.Fatalf("the last refresh saw version %d, the last poke announced %d", got, final)
	}
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("%d refreshes ran at once", m)
	}
}

// A node certificate bound to a libp2p key is a member under that key's
// peer ID only; its P-256 peer ID is the node's former one, which
// KeepConnected follows to the new one, and a revoked node is refused for
// that reason.
func TestRefreshBoundKeys(t *testing.T) {
	now := time.Now()
	ca, err := identity.NewCA("org1", now.Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string) (registry.Cert, peer.ID, peer.ID) {
		key, _ := identity.NewKey()
		csr, _ := identity.NewCSR(key, name, "org1")
		der, err := ca.Issue(csr, identity.RoleNode, now.Add(-time.Hour), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p2pKey, _ := identity.NewP2PKey()
		pub := p2pKey.Public().(ed25519.PublicKey)
		bound, _ := PeerOfKey(pub)
		legacy, _ := PeerID(&key.PublicKey)
		return registry.Cert{DER: der, P2PKey: pub}, bound, legacy
	}
	node, bound, legacy := issue("node")
	gone, goneBound, _ := issue("node-old")
	gone.Revoked = &registry.Revocation{}
	var logs recorder
	g := NewGate(slog.New(&logs))
	g.Refresh(map[string][]registry.Cert{"default": {node, gone}})
	if m, ok := g.Lookup(bound); !ok || m.ID != "node" {
		t.Fatalf("bound node: %+v %v", m, ok)
	}
	if _, ok := g.Lookup(legacy); ok {
		t.Fatal("a bound node is still a member under its P-256 peer ID")
	}
	if g.Current(legacy) != bound || g.Current(bound) != bound {
		t.Fatal("the former peer ID does not lead to the bound one")
	}
	for i := 0; i < 3; i++ {
		if g.admits(legacy) || g.admits(goneBound) {
			t.Fatal("admitted a former or revoked peer ID")
		}
	}
	if got := logs.lines(); len(got) != 2 || !strings.Contains(got[0], "former peer ID of node@org1") || !strings.Contains(got[1], "node-old@org1") || !strings.Contains(got[1], "revoked") {
		t.Fatalf("refusals logged: %q", got)
	}
}
