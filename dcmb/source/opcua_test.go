package source

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// opcuaServer is the node-opcua test server (testdata/opcua-server).
type opcuaServer struct {
	cmd      *exec.Cmd
	endpoint string
	node     string // the counter's node ID
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startOPCUAServer runs node-opcua's server on port. The test script
// installs it (npm ci); run by hand, 'npm ci' in testdata/opcua-server.
func startOPCUAServer(t *testing.T, port int, pki string) *opcuaServer {
	t.Helper()
	dir, _ := filepath.Abs("testdata/opcua-server")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-opcua-server")); err != nil {
		t.Fatalf("node-opcua-server is not installed: run 'npm ci' in %s (scripts/test.sh does)", dir)
	}
	cmd := exec.Command("node", "server.js", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COUNTER_START=5290", "COUNTER_MS=50", "PKI_DIR="+pki)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &opcuaServer{cmd: cmd}
	t.Cleanup(s.stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "READY ") {
				ready <- line
			}
		}
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		s.endpoint = f[1]
		s.node = strings.TrimPrefix(f[2], "ns=")
		s.node = "ns=" + s.node + ";s=WorkpieceCounter"
	case <-time.After(60 * time.Second):
		t.Fatal("the OPC UA server did not start within 60s")
	}
	return s
}

func (s *opcuaServer) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}

// counters reads n strictly increasing counter values from out.
func counters(t *testing.T, out <-chan Message, n int, after uint64) uint64 {
	t.Helper()
	last := after
	deadline := time.After(60 * time.Second)
	for got := 0; got < n; {
		select {
		case m := <-out:
			v, err := strconv.ParseUint(string(m.Value), 10, 32)
			if err != nil {
				t.Fatalf("value %q of %s is not a counter", m.Value, m.Key)
			}
			if v <= last && last != 0 {
				t.Fatalf("counter went from %d to %d", last, v)
			}
			last = v
			got++
		case <-deadline:
			t.Fatalf("only some of %d counter values arrived", n)
		}
	}
	return last
}

// The OPC UA source reads the work-piece counter of node-opcua's server,
// an implementation independent of gopcua, unsecured and with
// Basic256Sha256 SignAndEncrypt, and resumes after the server restarts.
func TestOPCUAAgainstNodeOPCUA(t *testing.T) {
	port := freeLoopbackPort(t)
	pki := t.TempDir()
	srv := startOPCUAServer(t, port, pki)
	for _, sec := range []string{"None", "SignAndEncrypt"} {
		t.Run(sec, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := make(chan Message, 1000)
			src := &OPCUA{Name: "press-7", Endpoint: srv.endpoint, Nodes: []string{srv.node}, Security: sec, Interval: 50 * time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, out) }()
			last := counters(t, out, 10, 0)
			if last < 5290 {
				t.Fatalf("counter %d below the server's start", last)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("server restart", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := make(chan Message, 1000)
		src := &OPCUA{Name: "press-7", Endpoint: srv.endpoint, Nodes: []string{srv.node}, Interval: 50 * time.Millisecond}
		go src.Run(ctx, out)
		counters(t, out, 5, 0)
		srv.stop()
		for len(out) > 0 {
			<-out
		}
		srv = startOPCUAServer(t, port, pki)
		// the restarted machine counts from its start again: values arrive and increase
		counters(t, out, 10, 0)
	})
}

func TestOPCUAConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		src  OPCUA
		want string
	}{
		{OPCUA{Endpoint: "opc.tcp://127.0.0.1:1"}, "endpoint and nodes"},
		{OPCUA{Endpoint: "opc.tcp://127.0.0.1:1", Nodes: []string{"ns=x;s=?"}}, "node"},
		{OPCUA{Endpoint: "opc.tcp://127.0.0.1:1", Nodes: []string{"ns=2;s=A"}, Security: "Sign"}, "security"},
		{OPCUA{Endpoint: "opc.tcp://127.0.0.1:1", Nodes: []string{"ns=2;s=A"}, CertFile: "c.pem"}, "cert_file and key_file"},
	} {
		err := c.src.Run(ctx, make(chan Message))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.src, err, c.want)
		}
	}
}
