package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/local"
)

// runTop executes a command group with args and returns what it printed.
func runTop(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), err
}

// The credit and paych commands against two nodes: mint by vote, open a
// channel, pay it with vouchers through the nodes, settle as the payer
// and find it redeemed and collected by the payee's node.
func TestCreditAndPaychCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a two-node consortium")
	}
	c, err := local.Start(t.TempDir(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	as := func(o *local.Org, json bool) *globals {
		return &globals{home: string(o.Home), nodeAddr: o.Daemon.APIAddr(), channel: "default", identity: "admin", timeout: time.Minute, json: json}
	}
	org1, org2 := c.Orgs[0], c.Orgs[1]
	// caught up waits until org2's node committed what org1's did
	caughtUp := func() {
		ch, _ := org1.Node.Channel("default")
		h, _ := ch.App.Height()
		if err := org2.WaitHeight(h, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	run := func(g *globals, group func(*globals) *cobra.Command, want string, args ...string) string {
		t.Helper()
		out, err := runTop(t, group(g), args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if !strings.Contains(out, want) {
			t.Fatalf("%v printed %q, want %q", args, out, want)
		}
		return out
	}
	run(as(org1, false), creditCmd, "1 of 2 orgs voted, not yet minted", "mint-vote", "--id", "m1", "--org", "org1", "--amount", "1000")
	run(as(org2, false), creditCmd, "2 of 2 orgs voted, minted", "mint-vote", "--id", "m1", "--org", "org1", "--amount", "1000")
	run(as(org1, false), creditCmd, "moved 50 from org1 to org2", "transfer", "--to", "org2", "--amount", "50", "--memo", "hello")
	caughtUp()
	run(as(org2, false), creditCmd, "org2                             50", "balance")
	out := run(as(org1, true), creditCmd, `"balance":950`, "balance", "--org", "org1")
	if _, err := runTop(t, creditCmd(as(org1, false)), "transfer", "--to", "org2", "--amount", "5000"); err == nil || !strings.Contains(err.Error(), "holds 950") {
		t.Fatalf("an overdraft: %v", err)
	}

	out = run(as(org1, true), paychCmd, `"state":"open"`, "open", "--to", "org2", "--deposit", "100", "--settle-delay", "200")
	var opened struct{ Channel paych.Channel }
	if err := json.Unmarshal([]byte(out), &opened); err != nil {
		t.Fatal(err)
	}
	id := opened.Channel.ID
	run(as(org1, false), paychCmd, "stored lane 0 nonce 1: 10 in total", "voucher", id, "--add", "10", "--send")
	run(as(org1, false), paychCmd, "stored lane 0 nonce 2: 15 in total", "voucher", id, "--add", "5", "--send")
	if _, err := runTop(t, paychCmd(as(org1, false)), "voucher", id, "--add", "86", "--send"); err == nil || !strings.Contains(err.Error(), "above_deposit") {
		t.Fatalf("a voucher past the deposit: %v", err)
	}
	if out := run(as(org1, false), paychCmd, "", "voucher", id, "--amount", "20", "--nonce", "3"); len(strings.TrimSpace(out)) < 200 {
		t.Fatalf("an unsent voucher printed %q", out)
	}
	caughtUp()
	run(as(org2, false), paychCmd, id, "list")
	run(as(org2, false), paychCmd, "holds vouchers for 15 in total", "show", id)
	run(as(org1, true), paychCmd, "[]", "list", "--state", "closed")

	// the payer settles; the payee's node answers with its last voucher
	// and collects
	run(as(org1, false), paychCmd, "settling  by payer", "settle", id)
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := runTop(t, paychCmd(as(org2, false)), "show", id)
		if err == nil && strings.Contains(out, "paid 15, refunded 85") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the payee's node did not redeem: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run(as(org2, false), creditCmd, "org2                             65", "balance")
	if _, err := runTop(t, paychCmd(as(org1, false)), "collect", id); err == nil || !strings.Contains(err.Error(), "was collected") {
		t.Fatalf("a second collect: %v", err)
	}
}
