package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// registryOnly is the contract list of these tests: the registry, which
// every channel needs.
func registryOnly() []contract.Contract { return []contract.Contract{registry.New()} }

func freeP2P(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "tcp://" + l.Addr().String()
}

func initHome(t *testing.T) Home {
	t.Helper()
	h := Home(t.TempDir())
	cfg, err := Init(h, "org1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Channels[0].P2PListen = freeP2P(t)
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	if err := h.SaveConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestInitOpenAndCreateChannel(t *testing.T) {
	h := initHome(t)
	if _, err := Init(h, "org1"); err == nil || !strings.Contains(err.Error(), "already initialized") {
		t.Fatalf("second init: %v", err)
	}
	n, err := Open(h, registryOnly, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.CreateChannel("quality", freeP2P(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateChannel("quality", freeP2P(t)); err == nil {
		t.Fatal("channel created twice")
	}
	if _, err := n.CreateChannel("Bad Name", freeP2P(t)); err == nil {
		t.Fatal("invalid channel name accepted")
	}
	names := []string{}
	for _, c := range n.Channels() {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "default,quality" {
		t.Fatalf("channels %v", names)
	}
	cfg, err := h.LoadConfig()
	if err != nil || len(cfg.Channels) != 2 {
		t.Fatalf("config after create: %+v %v", cfg, err)
	}
}

func TestCorruptHomeRefusesToStart(t *testing.T) {
	cases := []struct {
		name   string
		damage func(h Home)
		want   string
	}{
		{"no home", func(h Home) { os.Remove(h.Config()) }, "not a sealnet home"},
		{"config garbage", func(h Home) { os.WriteFile(h.Config(), []byte("org = [unterminated"), 0o600) }, "config.toml"},
		{"unknown setting", func(h Home) {
			b, _ := os.ReadFile(h.Config())
			os.WriteFile(h.Config(), append([]byte("colour = \"blue\"\n"), b...), 0o600)
		}, "unknown setting colour"},
		{"node key missing", func(h Home) { os.Remove(filepath.Join(h.Keys(), "node.key")) }, "node identity"},
		{"genesis missing", func(h Home) { os.Remove(filepath.Join(h.Channel("default"), "config", "genesis.json")) }, "genesis"},
		{"genesis garbage", func(h Home) {
			os.WriteFile(filepath.Join(h.Channel("default"), "config", "genesis.json"), []byte("{"), 0o600)
		}, "genesis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := initHome(t)
			tc.damage(h)
			n, err := Open(h, registryOnly, quiet())
			if err == nil {
				n.Close()
				t.Fatal("a damaged home started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestTestnetHomes(t *testing.T) {
	dir := t.TempDir()
	nodes, err := Testnet(TestnetOptions{Orgs: 3, Out: dir, Channel: "default", P2PPort: 26656, APIPort: 7700, LibP2P: 4001, HostBase: 10,
		TimeoutCommit: 25 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 || nodes[2].API != "127.0.0.13:7700" {
		t.Fatalf("nodes %+v", nodes)
	}
	g1, _ := os.ReadFile(filepath.Join(dir, "org1", "channels", "default", "config", "genesis.json"))
	g3, _ := os.ReadFile(filepath.Join(dir, "org3", "channels", "default", "config", "genesis.json"))
	if len(g1) == 0 || string(g1) != string(g3) {
		t.Fatal("nodes do not share one genesis")
	}
	cfg, err := nodes[0].Home.LoadConfig()
	if err != nil || strings.Count(cfg.Channels[0].PersistentPeers, "@") != 2 || cfg.Channels[0].TimeoutCommitMS != 25 {
		t.Fatalf("peers and pause of org1: %+v %v", cfg, err)
	}
	if _, err := Testnet(TestnetOptions{Orgs: 1, Out: t.TempDir(), Channel: "default", TimeoutCommit: -time.Millisecond}); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Fatalf("a negative pause: %v", err)
	}
	if _, err := Testnet(TestnetOptions{Orgs: 3, Out: dir, Channel: "default", P2PPort: 1, APIPort: 2, HostBase: 10}); err == nil {
		t.Fatal("testnet overwrote existing homes")
	}
}

// A node that joins a channel receives its blocks only after a member org's
// admin allowed its node ID.
func TestJoinNeedsAllowedPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two consortium nodes")
	}
	ha := initHome(t)
	a, err := Open(ha, registryOnly, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p2pA := freeP2P(t)
	g, err := a.CreateChannel("quality", p2pA)
	if err != nil {
		t.Fatal(err)
	}
	chA, _ := a.Channel("quality")
	gj, err := cmtjson.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}

	hb := Home(t.TempDir())
	cfgB, err := Init(hb, "org2")
	if err != nil {
		t.Fatal(err)
	}
	cfgB.Channels[0].P2PListen = freeP2P(t)
	cfgB.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	hb.SaveConfig(cfgB)
	b, err := Open(hb, registryOnly, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	idA := string(chA.Host.Node.NodeInfo().ID())
	if _, err := b.JoinChannel(gj, freeP2P(t), idA+"@"+strings.TrimPrefix(p2pA, "tcp://")); err != nil {
		t.Fatal(err)
	}
	chB, _ := b.Channel("quality")
	idB := string(chB.Host.Node.NodeInfo().ID())

	time.Sleep(3 * time.Second)
	if h, _ := chB.App.Height(); h != 0 || chA.Host.Node.Switch().Peers().Size() != 0 {
		t.Fatalf("an unregistered node got connected (height %d)", h)
	}

	admin, err := identity.LoadIdentity(ha.Keys(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := envelope.SignCall(admin, "quality", registry.Name, "allow_peer", registry.AllowPeerArgs{NodeID: idB}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := chA.Submit(ctx, raw)
	if err != nil || r.Code != 0 {
		t.Fatalf("allow_peer: %+v %v", r, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		hb, _ := chB.App.Height()
		if hb >= r.Height {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("allowed node stuck at height %d, channel at %d", hb, r.Height)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A home is held by one process at a time; a second lock names the
// holder's PID, and the home is free again after Release.
func TestHomeLock(t *testing.T) {
	h := Home(t.TempDir())
	l, err := h.Lock()
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Lock() // flock is per open file: a second open in one process conflicts too
	var inUse *HomeInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrHomeInUse) || inUse.PID != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("in use by PID %d", os.Getpid())) {
		t.Fatalf("message: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l, err = h.Lock()
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l.Release()
}
