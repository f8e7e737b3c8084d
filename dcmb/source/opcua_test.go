package source_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/dcmb/source/opcuatest"
)

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
	port := opcuatest.FreePort(t)
	pki := t.TempDir()
	srv := opcuatest.Start(t, port, pki, 5290, 50*time.Millisecond)
	for _, sec := range []string{"None", "SignAndEncrypt"} {
		t.Run(sec, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := make(chan Message, 1000)
			src := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, Security: sec, Interval: 50 * time.Millisecond}
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
		src := &OPCUA{Name: "press-7", Endpoint: srv.Endpoint, Nodes: []string{srv.Node}, Interval: 50 * time.Millisecond}
		go src.Run(ctx, out)
		counters(t, out, 5, 0)
		srv.Stop()
		for len(out) > 0 {
			<-out
		}
		srv = opcuatest.Start(t, port, pki, 5290, 50*time.Millisecond)
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
