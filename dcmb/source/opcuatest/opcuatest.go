// Package opcuatest runs the node-opcua test server (an OPC UA server
// independent of sealnet's gopcua client) for tests: a machine whose
// work-piece counter grows by one at a fixed period. 'npm ci' in
// dcmb/source/testdata/opcua-server installs it; scripts/test.sh does.
package opcuatest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running node-opcua server.
type Server struct {
	cmd      *exec.Cmd
	Endpoint string
	Node     string // the counter's node ID
	Cert     []byte // its certificate, DER
}

// Options configure the server's security; the zero value offers None and
// the three current policies in Sign and SignAndEncrypt, admits anonymous
// users and no others.
type Options struct {
	Policies    []string          // e.g. Basic256Sha256 (default: None and the three current ones)
	Modes       []string          // None, Sign, SignAndEncrypt (default: all three)
	Users       map[string]string // user name to password
	NoAnonymous bool              // refuse anonymous sessions
	UserCerts   [][]byte          // X.509 user certificates (DER) the server trusts
}

// TrustIn puts the server's certificate into the trust list at pki, as
// an operator who compared its thumbprint would.
func (s *Server) TrustIn(tb testing.TB, pki string) {
	tb.Helper()
	dir := filepath.Join(pki, "trusted", "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test-server.der"), s.Cert, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// FreePort returns a free loopback TCP port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs the server on port with its PKI under pki; it stops when the
// test ends. The counter starts at start and grows by one every every.
func Start(tb testing.TB, port int, pki string, start int, every time.Duration) *Server {
	tb.Helper()
	return StartWith(tb, port, pki, start, every, Options{})
}

// StartWith is Start with security options.
func StartWith(tb testing.TB, port int, pki string, start int, every time.Duration, opt Options) *Server {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "testdata", "opcua-server")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-opcua-server")); err != nil {
		tb.Fatalf("node-opcua-server is not installed: run 'npm ci' in %s (scripts/test.sh does)", dir)
	}
	cmd := exec.Command("node", "server.js", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COUNTER_START="+strconv.Itoa(start), "COUNTER_MS="+strconv.FormatInt(every.Milliseconds(), 10), "PKI_DIR="+pki)
	if len(opt.Policies) > 0 {
		cmd.Env = append(cmd.Env, "POLICIES="+strings.Join(opt.Policies, ","))
	}
	if len(opt.Modes) > 0 {
		cmd.Env = append(cmd.Env, "MODES="+strings.Join(opt.Modes, ","))
	}
	var users []string
	for u, p := range opt.Users {
		users = append(users, u+":"+p)
	}
	cmd.Env = append(cmd.Env, "USERS="+strings.Join(users, ","))
	if opt.NoAnonymous {
		cmd.Env = append(cmd.Env, "ANONYMOUS=0")
	}
	if len(opt.UserCerts) > 0 {
		dir := filepath.Join(pki, "user", "trusted", "certs")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			tb.Fatal(err)
		}
		for i, der := range opt.UserCerts {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("user%d.der", i)), der, 0o600); err != nil {
				tb.Fatal(err)
			}
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &Server{cmd: cmd}
	tb.Cleanup(s.Stop)
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if b64, ok := strings.CutPrefix(line, "CERT "); ok {
				s.Cert, _ = base64.StdEncoding.DecodeString(b64)
			}
			if strings.HasPrefix(line, "READY ") {
				ready <- strings.Fields(line)
			}
		}
	}()
	select {
	case f := <-ready:
		s.Endpoint = f[1]
		s.Node = f[2] + ";s=WorkpieceCounter"
	case <-time.After(60 * time.Second):
		tb.Fatal("the OPC UA server did not start within 60s")
	}
	return s
}

// Stop kills the server.
func (s *Server) Stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}
