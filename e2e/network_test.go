// Package e2e runs sealnet the way an operator does: built binaries,
// separate processes, real CometBFT consensus over loopback.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/internal/testutil"
)

// built is the sealnet binary of this test run, built once.
var built struct {
	once sync.Once
	path string
	err  error
}

// bin builds the sealnet binary once per test run (with the race detector
// when the tests run with it, so the node processes are checked too).
func bin(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "sealnet-e2e-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "sealnet")
		args := []string{"build", "-o", built.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/sealnet/sealnet/cmd/sealnet")...)
		if b, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build: %v\n%s", err, b)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	home string
	log  string
	done chan struct{} // closed when the process exited
	err  error         // its exit, once done
}

// start runs 'sealnet up' on home, or the given command.
func start(t *testing.T, sealnet, home string, command ...string) *proc {
	t.Helper()
	if len(command) == 0 {
		command = []string{"up"}
	}
	logPath := filepath.Join(home, fmt.Sprintf("node-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sealnet, append(command, "--home", home)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, home: home, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		f.Close()
		if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			i := bytes.Index(b, []byte("WARNING: DATA RACE"))
			t.Errorf("the race detector reported a data race in %s:\n%s", home, b[i:min(len(b), i+4000)])
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", home, tail(b, 3000))
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end and returns its exit.
func (p *proc) wait(d time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// stop ends the process with SIGTERM and waits for it.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := p.wait(30 * time.Second); !ok {
		t.Fatalf("%s did not stop within 30 s", p.home)
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Kill(); err != nil && !p.exited() {
		t.Fatal(err)
	}
	<-p.done
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// run executes the CLI and decodes its last JSON line into out.
func run(t *testing.T, sealnet string, out any, args ...string) error {
	t.Helper()
	cmd := exec.Command(sealnet, append(args, "--json")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return fmt.Errorf("sealnet %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if out != nil {
		return json.Unmarshal([]byte(lines[len(lines)-1]), out)
	}
	return nil
}

// The shared test helpers, under the names these tests use.
var (
	freePort = testutil.FreePort
	waitFor  = testutil.WaitForNil
)

// testnet writes the homes of n orgs, each on its own loopback address
// (org1 on the returned one), into a temporary directory.
func testnet(t *testing.T, sealnet string, n int) (dir, first string) {
	t.Helper()
	dir = t.TempDir()
	hostBase := 100 + rand.IntN(100)
	first = fmt.Sprintf("127.0.0.%d", hostBase+1)
	// four distinct ports: each listener stays open until all are chosen
	var held [4]net.Listener
	for i := range held {
		l, err := net.Listen("tcp", first+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		held[i] = l
	}
	port := func(i int) int { return held[i].Addr().(*net.TCPAddr).Port }
	p2pPort, apiPort, libp2pPort, opsPort := port(0), port(1), port(2), port(3)
	for _, l := range held {
		l.Close()
	}
	if err := run(t, sealnet, nil, "testnet", "--orgs", fmt.Sprint(n), "--out", dir, "--host-base", fmt.Sprint(hostBase),
		"--p2p-port", fmt.Sprint(p2pPort), "--api-port", fmt.Sprint(apiPort), "--libp2p-port", fmt.Sprint(libp2pPort),
		"--ops-port", fmt.Sprint(opsPort)); err != nil {
		t.Fatal(err)
	}
	return dir, first
}

func TestFourOrgNetworkSurvivesValidatorKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes")
	}
	sealnet := bin(t)
	dir, _ := testnet(t, sealnet, 4)
	homes := make([]string, 4)
	procs := make([]*proc, 4)
	for i := range homes {
		homes[i] = filepath.Join(dir, fmt.Sprintf("org%d", i+1))
		procs[i] = start(t, sealnet, homes[i])
	}
	status := func(i int) (*apiclient.Status, error) {
		var s apiclient.Status
		return &s, run(t, sealnet, &s, "status", "--home", homes[i], "--timeout", "3s")
	}
	for i := range homes {
		waitFor(t, fmt.Sprintf("org%d connected", i+1), 60*time.Second, func() error {
			s, err := status(i)
			if err != nil {
				return err
			}
			if c := s.Channels[0]; c.Peers < 3 || c.Height < 1 {
				return fmt.Errorf("peers %d height %d", c.Peers, c.Height)
			}
			return nil
		})
	}

	// a company stores an encrypted file; another one fetches and decrypts it
	src := filepath.Join(dir, "log.csv")
	payload := bytes.Repeat([]byte("2026-11-24T10:00:00Z,line4-spindle,5367\n"), 80_000)
	os.WriteFile(src, payload, 0o600)
	var put struct {
		TXNumber string `json:"tx_number"`
		Height   int64  `json:"height"`
	}
	if err := run(t, sealnet, &put, "data", "put", src, "--keyword", "spindle", "--summary", "counter log", "--home", homes[0]); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "fetched.csv")
	waitFor(t, "data get on org3", 30*time.Second, func() error {
		return run(t, sealnet, nil, "data", "get", put.TXNumber, "-o", dst, "--home", homes[2])
	})
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, payload) {
		t.Fatalf("org3 decrypted %d bytes, org1 stored %d", len(got), len(payload))
	}

	type ack struct {
		TxID   string `json:"tx_id"`
		Height int64  `json:"height"`
	}
	var acked []ack
	add := func(org int, n int) {
		t.Helper()
		cid := "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
		var a ack
		if err := run(t, sealnet, &a, "index", "add", "--home", homes[org], "--keyword", "maintenance",
			"--keyword", fmt.Sprintf("org%d-%d", org+1, n), "--cid", cid, "--summary", fmt.Sprintf("log %d of org%d", n, org+1)); err != nil {
			t.Fatal(err)
		}
		if a.TxID == "" || a.Height < 1 {
			t.Fatalf("index add acknowledged %+v", a)
		}
		acked = append(acked, a)
	}
	for n := range 3 {
		for org := range 4 {
			add(org, n)
		}
	}

	// a recorded keyword query from another org sees every entry so far
	var q struct {
		TxID    string            `json:"tx_id"`
		QueryA  string            `json:"query_a"`
		Entries []json.RawMessage `json:"entries"`
	}
	if err := run(t, sealnet, &q, "index", "find", "maintenance", "--home", homes[1]); err != nil {
		t.Fatal(err)
	}
	if len(q.Entries) != len(acked) || q.QueryA == "" || q.TxID == "" {
		t.Fatalf("index find: %d entries (want %d), QueryA %q", len(q.Entries), len(acked), q.QueryA)
	}

	// one validator dies without warning; the other three keep committing
	procs[3].kill(t)
	for n := 3; n < 8; n++ {
		for org := range 3 {
			add(org, n)
		}
	}
	procs[3] = start(t, sealnet, homes[3])
	add(0, 99)
	target := acked[len(acked)-1].Height

	var heights [4]int64
	for i := range homes {
		waitFor(t, fmt.Sprintf("org%d catches up to height %d", i+1, target), 90*time.Second, func() error {
			s, err := status(i)
			if err != nil {
				return err
			}
			heights[i] = s.Channels[0].Height
			if heights[i] < target {
				return fmt.Errorf("at %d", heights[i])
			}
			return nil
		})
	}
	// same block and app hash at the common height on every node
	var ref apiclient.BlockResponse
	for i := range homes {
		var b apiclient.BlockResponse
		if err := run(t, sealnet, &b, "block", "show", fmt.Sprint(target), "--home", homes[i]); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ref = b
		} else if b.Hash != ref.Hash || b.AppHash != ref.AppHash {
			t.Fatalf("org%d block %d: hash %s app %s; org1: hash %s app %s", i+1, target, b.Hash, b.AppHash, ref.Hash, ref.AppHash)
		}
	}
	// no acknowledged transaction was lost, on any node
	for i := range homes {
		for _, a := range acked {
			var r apiclient.TxResponse
			if err := run(t, sealnet, &r, "tx", "show", a.TxID, "--home", homes[i]); err != nil {
				t.Fatalf("org%d: %v", i+1, err)
			}
			if r.Height != a.Height || r.Code != 0 || r.Envelope == nil || !r.Envelope.Verified {
				t.Fatalf("org%d: tx %s at %d code %d, acknowledged at %d", i+1, a.TxID, r.Height, r.Code, a.Height)
			}
		}
	}
	var found struct {
		Entries []json.RawMessage `json:"entries"`
	}
	if err := run(t, sealnet, &found, "index", "lookup", "maintenance", "--limit", "1000", "--home", homes[3]); err != nil {
		t.Fatal(err)
	}
	if len(found.Entries) != len(acked) {
		t.Fatalf("org4 finds %d entries, %d were acknowledged", len(found.Entries), len(acked))
	}
}
