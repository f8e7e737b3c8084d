package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/dcmb/source/opcuatest"
)

func TestShareDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Share(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, step := range []string{"[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]", "all steps passed"} {
		if !strings.Contains(out.String(), step) {
			t.Fatalf("output lacks %s:\n%s", step, out.String())
		}
	}
}

// The maintenance scenario against node-opcua's server, an OPC UA
// implementation independent of sealnet's client.
func TestMaintenanceDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// slow enough that the consortium is up before the counter reaches 5367
	srv := opcuatest.Start(t, opcuatest.FreePort(t), t.TempDir(), 5290, 200*time.Millisecond)
	var out bytes.Buffer
	err := Maintenance(ctx, &out, MaintenanceOptions{OPCUA: srv.Endpoint, Node: srv.Node, Outage: 3 * time.Second})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, step := range []string{"[1]", "[2]", "condition_met condition=press-7-maintenance importance=high from=org1",
		"= 5367, received", "[6]", "receiver unreachable", "receiver reachable again", "once each and in order", "✓ message",
		"claiming 5368: rejected", "all steps passed"} {
		if !strings.Contains(out.String(), step) {
			t.Fatalf("output lacks %q:\n%s", step, out.String())
		}
	}
	t.Log(out.String())
}
