package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
// implementation independent of sealnet's client, read with
// SignAndEncrypt, Aes256_Sha256_RsaPss and a user's password, the server's
// certificate in the trust list.
func TestMaintenanceDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// slow enough that the consortium is up before the counter reaches 5367
	srv := opcuatest.StartWith(t, opcuatest.FreePort(t), t.TempDir(), 5290, 200*time.Millisecond,
		opcuatest.Options{Users: map[string]string{"planner": "counts-pieces"}, NoAnonymous: true})
	pwFile := filepath.Join(t.TempDir(), "password")
	os.WriteFile(pwFile, []byte("counts-pieces\n"), 0o600)
	opt := MaintenanceOptions{OPCUA: srv.Endpoint, Node: srv.Node, Security: "SignAndEncrypt", Policy: "Aes256_Sha256_RsaPss",
		PKI: t.TempDir(), Username: "planner", PasswordFile: pwFile, Outage: 3 * time.Second}

	// refusals come before the consortium starts, each naming what to change
	for _, c := range []struct {
		mod  func(*MaintenanceOptions)
		want string
	}{
		{func(o *MaintenanceOptions) { o.PKI = "" }, "needs --pki DIR"},
		{func(o *MaintenanceOptions) { o.OPCUA, o.Node = "", "" }, "simulated press offers security None"},
		{func(o *MaintenanceOptions) {}, "sealnet dcmb trust --pki " + opt.PKI},
		{func(o *MaintenanceOptions) { o.Security, o.Policy, o.Username, o.PasswordFile = "None", "", "", "" }, "refused an anonymous login"},
	} {
		o := opt
		c.mod(&o)
		var out bytes.Buffer
		if err := Maintenance(ctx, &out, o); err == nil || !strings.Contains(err.Error(), c.want) || out.Len() > 0 {
			t.Fatalf("%+v: %v, want an error about %q before any output", o, err, c.want)
		}
	}
	srv.TrustIn(t, opt.PKI)

	var out bytes.Buffer
	err := Maintenance(ctx, &out, opt)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, step := range []string{"[1]", "security SignAndEncrypt Aes256_Sha256_RsaPss, user planner", "[2]", "condition_met condition=press-7-maintenance importance=high from=org1",
		"= 5367, received", "[6]", "receiver unreachable", "receiver reachable again", "once each and in order", "✓ message",
		"claiming 5368: rejected", "all steps passed"} {
		if !strings.Contains(out.String(), step) {
			t.Fatalf("output lacks %q:\n%s", step, out.String())
		}
	}
	t.Log(out.String())
}

// Paper 000's module certification on the simulated press: certifiers
// rebuild and vote, the stream runs the certified module, a leaking
// revision is refused, an audit bundle shows the module's certification,
// and a suspension stops the stream at its next batch.
func TestCertifyDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Certify(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, step := range []string{"[1]", "[2]", "build reproduced", "validation passed", "is certified from block", "[5]", "condition_met",
		"anchored: messages 0-", "[6]", `carries the value "5367"`, "maintenance@2 is rejected", "[7]", "✓ the anchor names module",
		"approved it: build reproduced", "[8]", "recorded as dropped", "module not certified: maintenance@1 is suspended since block",
		"restarting it is refused", "all steps passed"} {
		if !strings.Contains(out.String(), step) {
			t.Fatalf("output lacks %q:\n%s", step, out.String())
		}
	}
	t.Log(out.String())
}
