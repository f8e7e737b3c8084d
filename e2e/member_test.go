package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/txerr"
)

// startTwoOrgs writes a 2-org testnet, starts both nodes and waits until
// each serves and sees the other; it returns the testnet's directory and
// the two homes.
func startTwoOrgs(t *testing.T, sealnet string) (dir, org1, org2 string) {
	t.Helper()
	dir, _ = testnet(t, sealnet, 2)
	org1, org2 = filepath.Join(dir, "org1"), filepath.Join(dir, "org2")
	start(t, sealnet, org1)
	start(t, sealnet, org2)
	waitFor(t, "both nodes serve", time.Minute, func() error {
		for _, h := range []string{org1, org2} {
			var s apiclient.Status
			if err := run(t, sealnet, &s, "status", "--home", h, "--timeout", "3s"); err != nil {
				return err
			}
			if s.Channels[0].Peers < 1 {
				return fmt.Errorf("%s has no peer yet", h)
			}
		}
		return nil
	})
	return dir, org1, org2
}

// memberHome makes a member's own machine: its key made there ('ca csr'),
// its certificate issued by the org admin on the node's home ('ca issue
// --csr') and imported with the org root and the node's address ('ca
// import --node').
func memberHome(t *testing.T, sealnet, dir, orgHome, name string, role identity.Role) string {
	t.Helper()
	cfg, err := node.Home(orgHome).LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, name+"-home")
	csr, certFile := filepath.Join(dir, name+".csr"), filepath.Join(dir, name+".pem")
	steps := [][]string{
		{"ca", "csr", "--name", name, "--org", cfg.Org, "--out", csr, "--home", home},
		{"ca", "issue", "--csr", csr, "--out", certFile, "--role", string(role), "--home", orgHome},
		{"ca", "import", "--name", name, "--cert", certFile, "--node", "https://" + cfg.API.Listen, "--home", home},
	}
	for _, s := range steps {
		if err := run(t, sealnet, nil, s...); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// runErr runs the CLI expecting a failure; it returns the exit code and
// standard error.
func runErr(t *testing.T, sealnet string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(sealnet, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("sealnet %s: want a failure, got %v", strings.Join(args, " "), err)
	}
	return ee.ExitCode(), stderr.String()
}

// Members work from their own homes, as on their own machines, against
// their org's node over mutual TLS: data put, data get, index find and
// events --follow. Without a certificate, with another org's certificate,
// with a revoked one and with the wrong role they are refused with 401 or
// 403 and nothing changes on chain.
func TestMembersReachTheirNodeOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two node processes")
	}
	sealnet := bin(t)
	dir, org1, org2 := startTwoOrgs(t, sealnet)
	bob := memberHome(t, sealnet, dir, org1, "bob", identity.RoleClient)
	carol := memberHome(t, sealnet, dir, org2, "carol", identity.RoleClient)
	audrey := memberHome(t, sealnet, dir, org1, "audrey", identity.RoleAuditor)

	// bob follows the channel's events from his machine, from the first
	// block: his put may commit before the stream is up
	ev := start(t, sealnet, bob, "events", "--follow", "--from", "1", "--json")

	// bob stores a file; carol, at the other company, finds and fetches it
	src := filepath.Join(dir, "spindle.csv")
	payload := bytes.Repeat([]byte("2026-11-30T10:00:00Z,line4-spindle,5367\n"), 1000)
	os.WriteFile(src, payload, 0o600)
	var put struct {
		TXNumber string `json:"tx_number"`
		CID      string `json:"cid"`
	}
	if err := run(t, sealnet, &put, "data", "put", src, "--keyword", "spindle", "--summary", "counter log", "--home", bob); err != nil {
		t.Fatal(err)
	}
	var found struct {
		Entries []struct {
			TXNumber string `json:"tx_number"`
		} `json:"entries"`
	}
	if err := run(t, sealnet, &found, "index", "find", "spindle", "--home", carol); err != nil {
		t.Fatal(err)
	}
	if len(found.Entries) != 1 {
		t.Fatalf("carol finds %+v", found)
	}
	dst := filepath.Join(dir, "fetched.csv")
	waitFor(t, "carol's data get", 30*time.Second, func() error {
		return run(t, sealnet, nil, "data", "get", put.TXNumber, "-o", dst, "--home", carol)
	})
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, payload) {
		t.Fatalf("carol decrypted %d bytes, bob stored %d", len(got), len(payload))
	}
	waitFor(t, "bob's event stream shows his subfile", 20*time.Second, func() error {
		b, _ := os.ReadFile(ev.log)
		if !bytes.Contains(b, []byte(`"type":"subfile"`)) {
			return fmt.Errorf("events so far: %s", tail(b, 500))
		}
		return nil
	})

	appHash := func() string {
		var s apiclient.Status
		if err := run(t, sealnet, &s, "status", "--home", org1); err != nil {
			t.Fatal(err)
		}
		return s.Channels[0].AppHash
	}
	before := appHash()

	// the wrong role: an auditor reads but does not write
	if err := run(t, sealnet, nil, "index", "lookup", "spindle", "--home", audrey); err != nil {
		t.Fatalf("auditor reads: %v", err)
	}
	code, msg := runErr(t, sealnet, "data", "put", src, "--keyword", "x", "--home", audrey)
	if code != 2 || !strings.Contains(msg, "auditor") {
		t.Fatalf("auditor's data put: exit %d: %s", code, msg)
	}
	// a member of another org at this org's node: the CLI refuses a node
	// its root did not issue, and a hand-made client gets 403
	cfg1, _ := node.Home(org1).LoadConfig()
	code, msg = runErr(t, sealnet, "status", "--home", carol, "--node", "https://"+cfg1.API.Listen)
	if !strings.Contains(msg, apiclient.ErrNotOurNode.Error()) {
		t.Fatalf("carol's CLI at org1's node: exit %d: %s", code, msg)
	}
	carolID, err := identity.LoadIdentity(node.Home(carol).Keys(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	root1, _ := identity.LoadRoot(node.Home(org1).Root())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := "https://" + cfg1.API.Listen
	foreign := &apiclient.Client{Base: base, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: apiclient.ClientTLS(carolID, root1)}}}
	_, err = foreign.Status(ctx)
	wantRefusal(t, "carol at org1's node", err, 403, txerr.RoleDenied)
	// no certificate at all
	anon := &apiclient.Client{Base: base, HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	_, err = anon.Status(ctx)
	wantRefusal(t, "no certificate", err, 401, txerr.UnknownCert)
	_, err = anon.SubmitRaw(ctx, "default", []byte("x"))
	wantRefusal(t, "no certificate submits", err, 401, txerr.UnknownCert)
	if h := appHash(); h != before {
		t.Fatalf("refused requests moved the app hash from %s to %s", before, h)
	}

	// bob's certificate is revoked: his event stream ends, his commands
	// are refused
	bobFP := readFingerprint(t, bob, "bob")
	if err := run(t, sealnet, nil, "ca", "revoke", bobFP, "--reason", "laptop stolen", "--home", org1); err != nil {
		t.Fatal(err)
	}
	err, ended := ev.wait(30 * time.Second)
	if !ended {
		t.Fatal("bob's event stream stays open after his revocation")
	}
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("bob's events --follow ended with %v, want exit 2", err)
	}
	code, msg = runErr(t, sealnet, "index", "find", "spindle", "--home", bob)
	if code != 2 || !strings.Contains(msg, "revoked") {
		t.Fatalf("revoked bob's index find: exit %d: %s", code, msg)
	}
	after := appHash()
	if before == after {
		t.Fatal("the revocation did not change the app hash")
	}
	code, msg = runErr(t, sealnet, "data", "put", src, "--keyword", "y", "--home", bob)
	if code != 2 || !strings.Contains(msg, "revoked") {
		t.Fatalf("revoked bob's data put: exit %d: %s", code, msg)
	}
	if h := appHash(); h != after {
		t.Fatalf("a revoked member's requests moved the app hash from %s to %s", after, h)
	}
}

func wantRefusal(t *testing.T, what string, err error, status int, code txerr.Code) {
	t.Helper()
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != status || txerr.CodeOf(err) != code {
		t.Fatalf("%s: got %v, want HTTP %d %s", what, err, status, code)
	}
}

// readFingerprint reads an identity's certificate fingerprint from a
// member's keystore.
func readFingerprint(t *testing.T, home, name string) string {
	t.Helper()
	id, err := identity.LoadIdentity(node.Home(home).Keys(), name)
	if err != nil {
		t.Fatal(err)
	}
	return id.Member.Fingerprint.String()
}
