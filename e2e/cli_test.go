package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	cmtversion "github.com/cometbft/cometbft/version"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
)

// runText runs the CLI without --json and returns its standard output.
func runText(t *testing.T, sealnet string, args ...string) string {
	t.Helper()
	cmd := exec.Command(sealnet, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sealnet %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// freePorts returns n distinct free loopback ports, each held open until
// all are chosen.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out
}

// freeBase returns a port whose next three are free too.
func freeBase(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := freePorts(t, 1)[0]
		if base > 65530 {
			continue
		}
		ok := true
		for i := 0; i < 4 && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no four consecutive free ports")
	return 0
}

// initNode makes a one-org home with 'sealnet init' on four free ports
// (API, ops, libp2p, consensus) and returns it with them.
func initNode(t *testing.T, sealnet, dir, name string, extra ...string) (string, []int) {
	t.Helper()
	home := filepath.Join(dir, name)
	p := freePorts(t, 4)
	args := append([]string{"init", "--home", home, "--org", name, "--api-port", fmt.Sprint(p[0]), "--ops-port", fmt.Sprint(p[1]),
		"--p2p-port", fmt.Sprint(p[2]), "--consensus-port", fmt.Sprint(p[3])}, extra...)
	if err := run(t, sealnet, nil, args...); err != nil {
		t.Fatal(err)
	}
	return home, p
}

// waitStatus waits for the node of home to answer and returns its status.
func waitStatus(t *testing.T, sealnet, home string) *apiclient.Status {
	t.Helper()
	var s apiclient.Status
	waitFor(t, "node of "+home+" serves", time.Minute, func() error {
		return run(t, sealnet, &s, "status", "--home", home, "--timeout", "3s")
	})
	return &s
}

func TestVersion(t *testing.T) {
	sealnet := bin(t)
	var v struct {
		Version, Commit, Go, CometBFT string
	}
	if err := run(t, sealnet, &v, "version"); err != nil {
		t.Fatal(err)
	}
	if v.Version == "" || v.Go != runtime.Version() || v.CometBFT != cmtversion.TMCoreSemVer ||
		!regexp.MustCompile(`^([0-9a-f]{40}(-dirty)?|unknown)$`).MatchString(v.Commit) {
		t.Fatalf("version %+v", v)
	}
	text := runText(t, sealnet, "version")
	for _, want := range []string{"sealnet " + v.Version, "commit " + v.Commit, v.Go, "CometBFT " + v.CometBFT} {
		if !strings.Contains(text, want) {
			t.Errorf("version text lacks %q:\n%s", want, text)
		}
	}
}

// Two nodes run on one machine from homes made with port flags alone;
// status shows each node's libp2p peer ID and addresses; a second start on
// a running node's home says which process holds it; data put labels the
// plaintext and ciphertext sizes.
func TestTwoNodesOnOneMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two node processes")
	}
	sealnet := bin(t)
	dir := t.TempDir()
	homeA, portsA := initNode(t, sealnet, dir, "orga")
	base := freeBase(t)
	homeB := filepath.Join(dir, "orgb")
	if err := run(t, sealnet, nil, "init", "--home", homeB, "--org", "orgb", "--base-port", fmt.Sprint(base)); err != nil {
		t.Fatal(err)
	}
	cfgB, err := node.Home(homeB).LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfgB.API.Listen != fmt.Sprintf("127.0.0.1:%d", base) || cfgB.API.OpsListen != fmt.Sprintf("127.0.0.1:%d", base+1) ||
		cfgB.P2P.Listen[0] != fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", base+2) || cfgB.Channels[0].P2PListen != fmt.Sprintf("tcp://127.0.0.1:%d", base+3) {
		t.Fatalf("--base-port %d gave %+v", base, cfgB)
	}
	if code, stderr := runErr(t, sealnet, "init", "--home", filepath.Join(dir, "bad"), "--api-port", "7", "--ops-port", "7"); code == 0 || !strings.Contains(stderr, "ports are both 7") {
		t.Fatalf("init with one port twice: %d %s", code, stderr)
	}

	a := start(t, sealnet, homeA)
	start(t, sealnet, homeB)
	sa, sb := waitStatus(t, sealnet, homeA), waitStatus(t, sealnet, homeB)
	for _, c := range []struct {
		s      *apiclient.Status
		libp2p int
	}{{sa, portsA[2]}, {sb, base + 2}} {
		p := c.s.P2P
		if p == nil || p.KeyType != "ed25519" || len(p.Addrs) == 0 {
			t.Fatalf("status of %s: libp2p %+v", c.s.Org, p)
		}
		if want := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", c.libp2p, p.PeerID); p.Addrs[0] != want {
			t.Fatalf("status of %s: addresses %v, want %s", c.s.Org, p.Addrs, want)
		}
	}
	if sa.P2P.PeerID == sb.P2P.PeerID {
		t.Fatal("two homes, one peer ID")
	}
	text := runText(t, sealnet, "status", "--home", homeA)
	if !strings.Contains(text, "libp2p peer ID "+sa.P2P.PeerID+" (ed25519 key)") || !strings.Contains(text, "libp2p address "+sa.P2P.Addrs[0]) {
		t.Fatalf("status text:\n%s", text)
	}

	// a second node on orga's home is refused at once, naming the first
	second := start(t, sealnet, homeA)
	err, done := second.wait(30 * time.Second)
	if !done || err == nil {
		t.Fatalf("a second node on a running node's home: exited %v, %v", done, err)
	}
	log, _ := os.ReadFile(second.log)
	if want := fmt.Sprintf("home %s is in use by PID %d", homeA, a.cmd.Process.Pid); !strings.Contains(string(log), want) {
		t.Fatalf("second start said:\n%s\nwant %q", log, want)
	}
	waitStatus(t, sealnet, homeA)

	// data put says which size is which
	src := filepath.Join(dir, "sample.bin")
	payload := make([]byte, 700_000)
	rand.Read(payload)
	os.WriteFile(src, payload, 0o600)
	var put struct {
		CID            string `json:"cid"`
		PlaintextSize  int64  `json:"plaintext_size"`
		CiphertextSize int64  `json:"ciphertext_size"`
	}
	if err := run(t, sealnet, &put, "data", "put", src, "--keyword", "sample", "--summary", "sizes", "--home", homeA); err != nil {
		t.Fatal(err)
	}
	if put.PlaintextSize != int64(len(payload)) || put.CiphertextSize <= put.PlaintextSize {
		t.Fatalf("put sizes: %+v", put)
	}
	text = runText(t, sealnet, "data", "put", src, "--keyword", "sample", "--summary", "sizes", "--home", homeA)
	if !regexp.MustCompile(fmt.Sprintf(`plaintext %d bytes, ciphertext %d bytes \(what the CID addresses\)`, len(payload), put.CiphertextSize)).MatchString(text) {
		t.Fatalf("put text:\n%s", text)
	}

	// a directory (with a subdirectory) and a file beside it go in one
	// command: one entry per regular file, each findable and readable
	batch := filepath.Join(dir, "batch")
	os.MkdirAll(filepath.Join(batch, "sub"), 0o700)
	want := map[string][]byte{}
	for i := range 42 {
		p := filepath.Join(batch, fmt.Sprintf("f%02d.log", i))
		if i >= 40 {
			p = filepath.Join(batch, "sub", fmt.Sprintf("f%02d.log", i))
		}
		b := make([]byte, 100+i*37)
		rand.Read(b)
		os.WriteFile(p, b, 0o600)
		want[p] = b
	}
	want[src] = payload
	var many []struct {
		Name          string `json:"name"`
		CID           string `json:"cid"`
		TXNumber      string `json:"tx_number"`
		PlaintextSize int64  `json:"plaintext_size"`
	}
	if err := run(t, sealnet, &many, "data", "put", batch, src, "--keyword", "batchkw", "--home", homeA); err != nil {
		t.Fatal(err)
	}
	cids := map[string]bool{}
	for _, f := range many {
		if b, ok := want[f.Name]; !ok || f.PlaintextSize != int64(len(b)) || f.TXNumber == "" {
			t.Fatalf("put of a directory: %+v", f)
		}
		cids[f.CID] = true
	}
	if len(many) != len(want) || len(cids) != len(want) {
		t.Fatalf("put %d files, got %d results with %d distinct CIDs", len(want), len(many), len(cids))
	}
	var found struct {
		Entries []struct {
			TXNumber string `json:"tx_number"`
		} `json:"entries"`
	}
	if err := run(t, sealnet, &found, "index", "find", "batchkw", "--home", homeA); err != nil {
		t.Fatal(err)
	}
	if len(found.Entries) != len(want) {
		t.Fatalf("found %d entries for %d files", len(found.Entries), len(want))
	}
	last := many[len(many)-2]
	dst := filepath.Join(dir, "fetched.log")
	if err := run(t, sealnet, nil, "data", "get", last.TXNumber, "-o", dst, "--home", homeA); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, want[last.Name]) {
		t.Fatalf("got back %d bytes of %s, put %d", len(got), last.Name, len(want[last.Name]))
	}
	text = runText(t, sealnet, "data", "put", filepath.Join(batch, "sub"), "--keyword", "batchkw", "--home", homeA)
	if !strings.Contains(text, "stored and indexed 2 of 2 files") {
		t.Fatalf("put of a directory, text:\n%s", text)
	}
}

// 'sealnet p2p key' gives a home without a libp2p key (one made before
// them) its key, and leaves a home that has one alone.
func TestP2PKeyCommand(t *testing.T) {
	sealnet := bin(t)
	home, _ := initNode(t, sealnet, t.TempDir(), "org1")
	if code, stderr := runErr(t, sealnet, "p2p", "key", "--home", home); code == 0 || !strings.Contains(stderr, "already holds a libp2p key") {
		t.Fatalf("p2p key on a new home: %d %s", code, stderr)
	}
	before, _ := os.ReadFile(node.Home(home).P2PKey())
	os.Remove(node.Home(home).P2PKey())
	var out struct {
		PeerID  string `json:"peer_id"`
		Running bool   `json:"node_running"`
	}
	if err := run(t, sealnet, &out, "p2p", "key", "--home", home); err != nil {
		t.Fatal(err)
	}
	key, err := identity.LoadP2PKey(node.Home(home).P2PKey())
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := crypto.UnmarshalEd25519PublicKey(key.Public().(ed25519.PublicKey))
	id, _ := peer.IDFromPublicKey(pub)
	if out.PeerID != id.String() || out.Running {
		t.Fatalf("p2p key said %+v, the key's peer ID is %s", out, id)
	}
	if after, _ := os.ReadFile(node.Home(home).P2PKey()); bytes.Equal(before, after) {
		t.Fatal("the same key twice")
	}
}
