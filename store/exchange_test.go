package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/syncbuf"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/testutil"
	"github.com/sealnet/sealnet/p2p"
)

// kuboDaemon runs a private Kubo daemon on loopback: no bootstrap peers, no
// routing, no discovery.
type kuboDaemon struct {
	bin  string
	env  []string
	addr ma.Multiaddr
	id   peer.ID
}

func (k *kuboDaemon) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func startKubo(t *testing.T) *kuboDaemon {
	t.Helper()
	k := &kuboDaemon{bin: kubo(t)}
	k.env = kuboRepo(t, k.bin)
	swarm := testutil.FreePort(t, "127.0.0.1")
	k.run(t, "config", "--json", "Addresses.Swarm", fmt.Sprintf(`["/ip4/127.0.0.1/tcp/%d"]`, swarm))
	k.run(t, "config", "Addresses.API", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", testutil.FreePort(t, "127.0.0.1")))
	k.run(t, "config", "Addresses.Gateway", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", testutil.FreePort(t, "127.0.0.1")))
	k.run(t, "config", "Routing.Type", "none")
	k.run(t, "config", "--json", "Discovery.MDNS.Enabled", "false")
	k.run(t, "bootstrap", "rm", "--all")
	id, err := peer.Decode(k.run(t, "config", "Identity.PeerID"))
	if err != nil {
		t.Fatal(err)
	}
	k.id = id
	k.addr = ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", swarm))
	cmd := exec.Command(k.bin, "daemon")
	cmd.Env = k.env
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 150 && !strings.Contains(out.String(), "Daemon is ready"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "Daemon is ready") {
		t.Fatalf("kubo daemon did not start:\n%s", out.String())
	}
	return k
}

func TestBitswapWithKubo(t *testing.T) {
	k := startKubo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, _ := identity.NewP2PKey() // a node's libp2p key type
	gate := p2p.NewGate(slog.New(slog.NewTextHandler(io.Discard, nil)))
	gate.Allow(k.id) // Kubo is no consortium member: listed explicitly
	h, err := p2p.NewHost(key, []string{"/ip4/127.0.0.1/tcp/0"}, gate)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ex := s.Exchange(ctx, h, nil)
	defer ex.Close()
	if err := h.Connect(ctx, peer.AddrInfo{ID: k.id, Addrs: []ma.Multiaddr{k.addr}}); err != nil {
		t.Fatalf("connect to kubo: %v", err)
	}

	// Kubo fetches a file that only sealnet has
	ours := sample(t, 3<<20+17)
	f, _ := os.Open(ours)
	root, err := s.Add(ctx, f, AddOptions{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "from-sealnet")
	k.run(t, "get", "--timeout", "60s", "-o", out, root.String())
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(ours)
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("kubo fetched %d bytes that differ from the %d stored", len(got), len(want))
	}

	// sealnet fetches a file that only Kubo has
	theirs := sample(t, 2<<20+5)
	c, err := cid.Decode(k.run(t, "add", "-Q", "--cid-version", "1", "--raw-leaves", "--chunker", "size-262144", theirs))
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Fetch(ctx, c); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	fetched, _ := io.ReadAll(r)
	orig, _ := os.ReadFile(theirs)
	if !bytes.Equal(fetched, orig) {
		t.Fatalf("fetched %d bytes from kubo, want %d", len(fetched), len(orig))
	}
}
