package paych_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sealnet/sealnet/contract/contracttest"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
)

// chain drives a scenario (a running and a restarted node) from Go.
type chain struct {
	t *testing.T
	s *contracttest.Scenario
}

func newChain(t *testing.T) *chain {
	s, err := contracttest.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &chain{t: t, s: s}
	for _, line := range []string{
		"ca org1", "ca org2",
		"member org1/admin org2/admin role=admin",
		"member org1/alice",
		"member org2/press role=worker",
		"genesis orgs=(org1, org2) members=(org1/admin, org2/admin)",
		"tx org1/admin registry.enroll cert=cert:org1/alice",
		"tx org2/admin registry.enroll cert=cert:org2/press",
		"tx org1/admin credit.vote_mint id=m1 org=org1 amount=100000",
		"tx org2/admin credit.vote_mint id=m1 org=org1 amount=100000",
		"tx org1/admin credit.open_account member=alice",
		"block",
	} {
		c.step(line)
	}
	c.ok(c.step("call org1/admin credit.transfer to_org=org1 to_member=alice amount=20000"))
	return c
}

func (c *chain) step(line string) string {
	c.t.Helper()
	out, err := c.s.Step(line, "")
	if err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	return out
}

// ok returns the JSON result of a call or query that succeeded.
func (c *chain) ok(out string) map[string]any {
	c.t.Helper()
	first, _, _ := strings.Cut(out, "\nevent ")
	rest, found := strings.CutPrefix(first, "ok ")
	var v map[string]any
	if !found || json.Unmarshal([]byte(strings.TrimSpace(rest)), &v) != nil {
		c.t.Fatalf("not a result: %s", out)
	}
	return v
}

func (c *chain) balance(account string) float64 {
	c.t.Helper()
	org, member, _ := strings.Cut(account, "/")
	q := "query credit.balance org=" + org
	if member != "" {
		q += " member=" + member
	}
	return c.ok(c.step(q))["balance"].(float64)
}

// payeeView is the payee's view of a channel just opened.
func (c *chain) payeeView(label string, deposit uint64) *voucher.Channel {
	c.t.Helper()
	id, err := c.s.TxID(label)
	if err != nil {
		c.t.Fatal(err)
	}
	key, err := c.s.Key("org1/alice")
	if err != nil {
		c.t.Fatal(err)
	}
	return &voucher.Channel{Chain: contracttest.Channel, Contract: paych.Name, ID: id, Payer: &key.PublicKey, Deposit: deposit}
}

// A channel pays 1,000 results off chain: the payer signs a voucher per
// result, the payee takes each with the pure Accept, and the chain sees
// three transactions for the channel: open, the payee's settle with its
// last voucher, collect. (Two would do if the payee waited for the
// expiry to be paid; see the package documentation.)
func TestThousandResultsThreeTransactions(t *testing.T) {
	const results, price = 1000, 7
	c := newChain(t)
	touched := 0 // transactions whose events name the channel
	count := func(out string) string {
		if strings.Contains(out, "channel=tx:open") {
			touched++
		}
		return out
	}
	count(c.step("call org1/alice paych.open from=alice to_org=org2 deposit=10000 expiry=1000 settle_delay=100 as=open"))

	key, err := c.s.Key("org1/alice")
	if err != nil {
		t.Fatal(err)
	}
	view := c.payeeView("open", 10000)
	var last, previous []byte
	for i := uint64(1); i <= results; i++ {
		raw, err := voucher.Sign(voucher.Voucher{Chain: view.Chain, Contract: view.Contract, Channel: view.ID[:],
			Nonce: i, Amount: i * price}, key)
		if err != nil {
			t.Fatal(err)
		}
		d, err := voucher.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		e, err := voucher.Accept(d, view, voucher.Expect{Increment: price})
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		view.Apply(e)
		previous, last = last, raw
	}
	// the payee refuses an old voucher offered again
	if d, _ := voucher.Decode(previous); d == nil {
		t.Fatal("previous voucher does not decode")
	} else if _, err := voucher.Accept(d, view, voucher.Expect{}); !errors.Is(err, voucher.ErrStaleNonce) {
		t.Fatalf("an old voucher: %v", err)
	}
	if view.Total() != results*price {
		t.Fatalf("the payee holds %d", view.Total())
	}

	c.ok(count(c.step("call org2/press paych.settle id=tx:open voucher=hex:" + hex.EncodeToString(last))))
	ch := c.ok(count(c.step("call org2/press paych.collect id=tx:open")))
	if ch["txs"] != 3.0 || ch["paid"] != float64(results*price) || ch["refunded"] != float64(10000-results*price) || ch["state"] != "closed" {
		t.Fatalf("channel after collect: %v", ch)
	}
	if touched != 3 {
		t.Fatalf("%d transactions named the channel, want 3", touched)
	}
	if got := c.balance("org2"); got != results*price {
		t.Fatalf("payee holds %v", got)
	}
	if got := c.balance("org1/alice"); got != 20000-results*price {
		t.Fatalf("payer holds %v", got)
	}
}

// A channel expires with nobody acting: at the end of its expiry block it
// settles, at the end of the settle delay it is collected, and both
// sides hold what they should. One channel had a voucher redeemed before
// the expiry, the other nothing at all.
func TestExpiryWithNobodyActing(t *testing.T) {
	c := newChain(t)
	c.step("tx org1/alice paych.open from=alice to_org=org2 deposit=300 expiry=10 settle_delay=12 as=paid")
	c.step("tx org1/alice paych.open from=alice to_org=org2 deposit=200 expiry=10 settle_delay=12 as=idle")
	c.step("block") // block 3
	view := c.payeeView("paid", 300)
	key, _ := c.s.Key("org1/alice")
	raw, err := voucher.Sign(voucher.Voucher{Chain: view.Chain, Contract: view.Contract, Channel: view.ID[:], Nonce: 1, Amount: 120}, key)
	if err != nil {
		t.Fatal(err)
	}
	c.ok(c.step("call org2/press paych.redeem id=tx:paid voucher=hex:" + hex.EncodeToString(raw))) // block 4
	if c.balance("org1/alice") != 20000-500 || c.balance("org2") != 0 {
		t.Fatal("credits moved before the expiry")
	}
	ends := map[int]string{} // end-of-block events by height
	for h := 5; h <= 22; h++ {
		if out := c.step("block"); out != "" {
			ends[h] = out
		}
	}
	if len(ends) != 2 {
		t.Fatalf("end-of-block events at %d heights, want 10 and 22: %v", len(ends), ends)
	}
	for h, want := range map[int][]string{
		10: {"paych.settling channel=tx:paid by=expiry settle_at=22", "paych.settling channel=tx:idle by=expiry settle_at=22"},
		22: {"credit.released to=org2 holder=paych amount=120 ref=tx:paid",
			"credit.released to=org1/alice holder=paych amount=180 ref=tx:paid",
			"paych.collected channel=tx:paid by=expiry paid=120 refunded=180",
			"credit.released to=org1/alice holder=paych amount=200 ref=tx:idle",
			"paych.collected channel=tx:idle by=expiry paid=0 refunded=200"},
	} {
		for _, w := range want {
			if !strings.Contains(ends[h], "end: event "+w+"\n") {
				t.Errorf("block %d: no %q in\n%s", h, w, ends[h])
			}
		}
	}
	if c.balance("org2") != 120 {
		t.Errorf("payee holds %v, want 120", c.balance("org2"))
	}
	if c.balance("org1/alice") != 20000-120 {
		t.Errorf("payer holds %v, want %d", c.balance("org1/alice"), 20000-120)
	}
	if c.ok(c.step("query credit.supply"))["supply"] != 100000.0 {
		t.Error("the supply changed")
	}
}
