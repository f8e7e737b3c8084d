package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/local"
)

// moduleRun executes a sealnet module command and returns what it printed.
func moduleRun(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	cmd := moduleCmd(g)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	os.Stdout = stdout
	w.Close()
	return string(<-done), err
}

// The certification of a module from the command line: org admins adopt
// a policy, org1 proposes the maintenance module, each certifier org
// rebuilds, validates and votes, and one suspends it.
func TestModuleCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("a consortium and WebAssembly builds")
	}
	dir := t.TempDir()
	c, err := local.Start(filepath.Join(dir, "net"), 3, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	as := func(o *local.Org, id string) *globals {
		return &globals{home: string(o.Home), channel: "default", identity: id, timeout: 2 * time.Minute}
	}
	for _, o := range c.Orgs[1:] {
		cert, _, err := o.Enroll(context.Background(), "certifier", identity.RoleCertifier)
		if err != nil {
			t.Fatal(err)
		}
		if err := identity.SaveIdentity(o.Home.Keys(), "certifier", cert.Key, cert.CertDER); err != nil {
			t.Fatal(err)
		}
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	// a node answers once it has the block of a transaction sent to another
	eventually := func(g *globals, want func(string) bool, args ...string) string {
		t.Helper()
		var out string
		var err error
		for range 50 {
			if out, err = moduleRun(t, g, args...); err == nil && want(out) {
				return out
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: %v %s", strings.Join(args, " "), err, out)
		return ""
	}
	for _, o := range c.Orgs[:2] {
		must(moduleRun(t, as(o, "admin"), "policy", "--certifiers", "org2,org3", "--threshold", "2", "--suspend", "1"))
	}
	eventually(as(c.Orgs[0], "admin"), func(out string) bool {
		return strings.Contains(out, "certifiers org2, org3, certify and revoke with 2, suspend with 1")
	}, "policy")

	src := filepath.Join(dir, "src")
	must(moduleRun(t, as(c.Orgs[0], "admin"), "source", src))
	wasm := filepath.Join(dir, "proposed.wasm")
	out := must(moduleRun(t, as(c.Orgs[0], "admin"), "propose", "maintenance@1", "--source", src, "--package", "./maintenance",
		"--purpose", "maintenance", "--output", "maintenance", "-o", wasm))
	if !strings.Contains(out, "proposed maintenance@1 for maintenance") {
		t.Fatalf("propose: %s", out)
	}

	tests := filepath.Join(dir, "tests.jsonl")
	os.WriteFile(tests, []byte(`{"name": "paper", "in": [{"key": "k", "value": "5367"}], "want": [{"index": 0, "output": "maintenance", "text": "Maintenance imminent"}]}`+"\n"), 0o644)
	for i, o := range c.Orgs[1:] {
		g := as(o, "certifier")
		eventually(g, func(string) bool { return true }, "status", "maintenance@1")
		secret, log := filepath.Join(dir, o.Name+".secret"), filepath.Join(dir, o.Name+".log")
		if i == 0 {
			rebuilt := filepath.Join(dir, "rebuilt.wasm")
			if out := must(moduleRun(t, g, "build", "maintenance@1", "--source", src, "-o", rebuilt)); !strings.Contains(out, "reproduced: maintenance@1 rebuilds to") {
				t.Fatalf("build: %s", out)
			}
			out := must(moduleRun(t, g, "verify", "maintenance@1", "--module", rebuilt, "--tests", tests, "--secret", secret, "--log", log))
			if !strings.Contains(out, `case 0 "paper": 1 messages: ok`) || !strings.Contains(out, "result: passed") {
				t.Fatalf("verify: %s", out)
			}
		}
		out := must(moduleRun(t, g, "vote", "maintenance@1", "--source", src, "--tests", tests, "--secret", secret, "--log", log))
		if !strings.Contains(out, `voted "approve" on maintenance@1`) {
			t.Fatalf("vote: %s", out)
		}
		if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "result: passed") {
			t.Fatalf("log %s: %v %s", log, err, b)
		}
	}
	// org1's node reads the votes once it has their blocks
	g := as(c.Orgs[0], "admin")
	out = eventually(g, func(out string) bool {
		return strings.Contains(out, "maintenance@1: certified") && strings.Count(out, "vote  org") == 2
	}, "status", "maintenance@1")
	hash := strings.Fields(strings.SplitN(out, "\n  module ", 2)[1])[0]
	if out := must(moduleRun(t, g, "status", "--module", hash, "--purpose", "maintenance")); !strings.Contains(out, "certified: module") {
		t.Fatalf("status --module: %s", out)
	}
	must(moduleRun(t, as(c.Orgs[2], "certifier"), "revoke", "maintenance@1", "--reason", "leaks"))
	eventually(g, func(out string) bool {
		return strings.Contains(out, "NOT certified") && strings.Contains(out, "suspended since block")
	}, "status", "--module", hash, "--purpose", "maintenance")
	if _, err := moduleRun(t, g, "vote", "nonsense"); err == nil || !strings.Contains(err.Error(), "NAME@VERSION") {
		t.Fatalf("a bad reference: %v", err)
	}
}
