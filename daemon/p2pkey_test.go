package daemon

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/p2p"
)

// A new home's node runs on its Ed25519 libp2p key, bound in the genesis.
func TestNewHomeRunsOnBoundKey(t *testing.T) {
	h := home(t)
	d, err := Start(h, Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	key, err := identity.LoadP2PKey(h.P2PKey())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := p2p.PeerOfKey(key.Public().(ed25519.PublicKey))
	if d.P2P.Host.ID() != want {
		t.Fatalf("host %s, want the libp2p key's %s", d.P2P.Host.ID(), want)
	}
	c, _ := d.Node.Channel("default")
	rec, err := c.App.CertRecord(d.Node.Identity.Member.Fingerprint)
	if err != nil || !bytes.Equal(rec.P2PKey, key.Public().(ed25519.PublicKey)) {
		t.Fatalf("registry record %+v %v", rec, err)
	}
	if m, ok := d.P2P.Gate.Lookup(want); !ok || m.ID != "node" {
		t.Fatalf("the gate does not know the node under its key: %+v", m)
	}
}

// A home made before libp2p keys (no key, no binding in its genesis) runs
// on its certificate's P-256 key; given a key, it binds it on its channel
// at the next start and runs on it.
func TestOldHomeMigrates(t *testing.T) {
	h := home(t)
	os.Remove(h.P2PKey())
	chHome := h.Channel("default")
	g, err := types.GenesisDocFromFile(chHome + "/config/genesis.json")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.ParseAppState(g.AppState)
	if err != nil {
		t.Fatal(err)
	}
	st.Registry.P2PKeys = nil
	if g.AppState, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := node.WriteGenesis(chHome, g); err != nil {
		t.Fatal(err)
	}

	d, err := Start(h, Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := p2p.PeerID(&d.Node.Identity.Key.PublicKey)
	if d.P2P.Host.ID() != legacy {
		t.Fatalf("host %s, want the certificate key's %s", d.P2P.Host.ID(), legacy)
	}
	d.Close()

	key, err := h.MakeP2PKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.MakeP2PKey(); err == nil {
		t.Fatal("a second key replaced the first")
	}
	d, err = Start(h, Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pub := key.Public().(ed25519.PublicKey)
	bound, _ := p2p.PeerOfKey(pub)
	if d.P2P.Host.ID() != bound {
		t.Fatalf("host %s, want the new key's %s", d.P2P.Host.ID(), bound)
	}
	c, _ := d.Node.Channel("default")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := c.App.CertRecord(d.Node.Identity.Member.Fingerprint)
		if err == nil && bytes.Equal(rec.P2PKey, pub) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key was not bound within 30 s: %+v %v", rec, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, ok := d.P2P.Gate.Lookup(bound)
		if ok && d.P2P.Gate.Current(legacy) == bound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gate did not follow the binding")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
