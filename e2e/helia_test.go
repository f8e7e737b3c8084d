package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
)

// heliaDir is the Helia peer's package; 'npm ci' there installs its
// pinned packages (scripts/test.sh does).
func heliaDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "testdata", "helia")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "helia")); err != nil {
		t.Fatalf("helia is not installed: run 'npm ci' in %s (scripts/test.sh does)", dir)
	}
	return dir
}

// heliaPeer is a libp2p identity for the Helia peer, made here so that
// the node's p2p.allow_peers can list it before the node starts.
type heliaPeer struct {
	id  peer.ID
	key string // hex of the protobuf private key, as fetch.js takes it
}

func newHeliaPeer(t *testing.T) heliaPeer {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return heliaPeer{id: id, key: hex.EncodeToString(raw)}
}

// heliaResult is what fetch.js prints.
type heliaResult struct {
	PeerID string `json:"peer_id"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	CID    string `json:"cid"`
	MS     int64  `json:"ms"`
	Error  string `json:"error"`
}

// fetch runs the Helia peer p against the node at addr for cid.
func (p heliaPeer) fetch(t *testing.T, dir, addr, cid string, timeout time.Duration) heliaResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "fetch.js", addr, cid, p.key)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("FETCH_TIMEOUT_MS=%d", timeout.Milliseconds()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var r heliaResult
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("helia: %v (%v)\nstdout: %s\nstderr: %s", err, runErr, stdout.String(), stderr.String())
	}
	if r.PeerID != p.id.String() {
		t.Fatalf("helia ran as %s, want %s", r.PeerID, p.id)
	}
	if (r.Error == "") != (runErr == nil) {
		t.Fatalf("helia exit %v with result %+v; stderr: %s", runErr, r, stderr.String())
	}
	return r
}

// A Helia node (JavaScript libp2p, from npm) that the operator listed in
// p2p.allow_peers fetches a stored object from a sealnet node over
// bitswap: the same bytes, hence the same CID. An unlisted Helia node is
// refused, logged once however often it tries, and the node goes on
// serving.
func TestHeliaFetchesFromNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and Helia peers")
	}
	dir := heliaDir(t)
	sealnet := bin(t)
	tmp := t.TempDir()
	home, _ := initNode(t, sealnet, tmp, "org1")
	listed, unlisted := newHeliaPeer(t), newHeliaPeer(t)
	cfg, err := node.Home(home).LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.AllowPeers = []string{listed.id.String()}
	if err := node.Home(home).SaveConfig(cfg); err != nil {
		t.Fatal(err)
	}
	n := start(t, sealnet, home)
	st := waitStatus(t, sealnet, home)
	if st.P2P == nil || st.P2P.KeyType != "ed25519" {
		t.Fatalf("libp2p status %+v", st.P2P)
	}
	addr := st.P2P.Addrs[0]

	// three chunks and a bit of ciphertext: a DAG of four leaves
	src := filepath.Join(tmp, "sample.bin")
	payload := make([]byte, 3<<20/4*3+1000)
	rand.Read(payload)
	os.WriteFile(src, payload, 0o600)
	var put struct {
		CID            string `json:"cid"`
		CiphertextSize int64  `json:"ciphertext_size"`
	}
	if err := run(t, sealnet, &put, "data", "put", src, "--keyword", "interop", "--summary", "for helia", "--home", home); err != nil {
		t.Fatal(err)
	}
	ciphertext := storedBytes(t, home, cfg.API.Listen, put.CID)
	sum := sha256.Sum256(ciphertext)

	got := listed.fetch(t, dir, addr, put.CID, 60*time.Second)
	if got.Error != "" {
		t.Fatalf("listed helia peer: %s", got.Error)
	}
	if got.Bytes != put.CiphertextSize || got.SHA256 != hex.EncodeToString(sum[:]) || got.CID != put.CID {
		t.Fatalf("helia fetched %d bytes, sha256 %s, CID %s; the node stores %d bytes, sha256 %x, CID %s",
			got.Bytes, got.SHA256, got.CID, len(ciphertext), sum, put.CID)
	}
	t.Logf("helia fetched %d bytes in %d ms", got.Bytes, got.MS)

	for i := 0; i < 2; i++ {
		r := unlisted.fetch(t, dir, addr, put.CID, 5*time.Second)
		if r.Error == "" || r.Bytes != 0 {
			t.Fatalf("an unlisted helia peer fetched: %+v", r)
		}
		t.Logf("unlisted helia peer: %s", r.Error)
	}
	waitFor(t, "the refusal in the node's log", 10*time.Second, func() error {
		if refusals(t, n, unlisted.id) == 0 {
			return fmt.Errorf("not logged")
		}
		return nil
	})
	if c := refusals(t, n, unlisted.id); c != 1 {
		t.Fatalf("the unlisted peer's refusal was logged %d times, want once", c)
	}
	waitStatus(t, sealnet, home)
	if r := listed.fetch(t, dir, addr, put.CID, 60*time.Second); r.Error != "" || r.CID != put.CID {
		t.Fatalf("listed helia peer after the refusals: %+v", r)
	}
}

// refusals counts the gate's log lines refusing peer id.
func refusals(t *testing.T, p *proc, id peer.ID) int {
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "refused a peer") && strings.Contains(line, id.String()) {
			if !strings.Contains(line, "p2p.allow_peers") {
				t.Fatalf("refusal without its reason: %s", line)
			}
			n++
		}
	}
	return n
}

// storedBytes reads object cid from the node's store through its API, as
// the home's admin.
func storedBytes(t *testing.T, home, api, cid string) []byte {
	t.Helper()
	h := node.Home(home)
	id, err := identity.LoadIdentity(h.Keys(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	root, err := identity.LoadRoot(h.Root())
	if err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.New(api, id, root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := c.StoreGet(ctx, "default", cid, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
