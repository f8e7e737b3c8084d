package paych_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// ledgerOf replays the credit events of an output into balances: every
// movement of credits must be an event, so the balances the events add up
// to are the balances the contract holds.
type ledgerOf map[string]int64

func (l ledgerOf) replay(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		_, ev, ok := strings.Cut(line, "event credit.")
		if !ok {
			continue
		}
		fields := strings.Fields(ev)
		attrs := map[string]string{}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			attrs[k] = v
		}
		n, err := strconv.ParseInt(attrs["amount"], 10, 64)
		if err != nil && fields[0] != "account_opened" {
			t.Fatalf("event without an amount: %s", line)
		}
		switch fields[0] {
		case "minted":
			l[attrs["to"]] += n
		case "transferred":
			l[attrs["from"]] -= n
			l[attrs["to"]] += n
		case "locked":
			l[attrs["from"]] -= n
			l["escrow:"+attrs["holder"]] += n
		case "released":
			l["escrow:"+attrs["holder"]] -= n
			l[attrs["to"]] += n
		}
	}
	for k, v := range l {
		if v < 0 {
			t.Fatalf("the events take %s below zero: %d", k, v)
		}
	}
}

// Random transfers, channels, vouchers, settles, collects and expiries:
// after every step no balance is negative, the events account for every
// balance, the balances and the escrow add up to the supply, and once
// every channel has expired the escrow is empty.
func TestCreditsAreConserved(t *testing.T) {
	c := newChain(t)
	events := ledgerOf{}
	events.replay(t, "event credit.minted id=m1 to=org1 amount=100000\nevent credit.transferred from=org1 to=org1/alice amount=20000")
	c.step("call org2/admin credit.open_account member=press")
	rng := rand.New(rand.NewPCG(4, 2))
	type channel struct {
		label, payer, payee string
		deposit, nonce      uint64
		lanes               [3]uint64
	}
	var channels []*channel
	payers := []string{"org1/alice", "org1/admin"}
	payees := []string{"org2/press", "org2/admin"}
	accounts := []string{"org1", "org1/alice", "org2", "org2/press"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	height := 4
	tally := map[string]int{} // outcomes by method, for -v
	for i := range 150 {
		var line string
		switch op := rng.IntN(10); {
		case op < 2:
			from, to := pick(accounts), pick(accounts)
			signer := map[string]string{"org1": "org1/admin", "org1/alice": "org1/alice", "org2": "org2/admin", "org2/press": "org2/admin"}[from]
			_, member, _ := strings.Cut(from, "/")
			torg, tmember, _ := strings.Cut(to, "/")
			line = fmt.Sprintf("call %s credit.transfer from=%s to_org=%s to_member=%s amount=%d", signer, member, torg, tmember, rng.IntN(3000))
		case op < 4:
			payer := pick(payers)
			from := ""
			if payer == "org1/alice" {
				from = "alice"
			}
			to := pick(accounts[2:])
			torg, tmember, _ := strings.Cut(to, "/")
			ch := &channel{label: fmt.Sprintf("c%d", i), payer: payer, payee: "org2/admin", deposit: 1 + uint64(rng.IntN(5000))}
			if tmember != "" || rng.IntN(2) == 0 {
				ch.payee = "org2/press"
			}
			channels = append(channels, ch)
			line = fmt.Sprintf("call %s paych.open from=%s to_org=%s to_member=%s deposit=%d expiry=%d settle_delay=10 as=%s",
				payer, from, torg, tmember, ch.deposit, height+2+rng.IntN(30), ch.label)
		case op < 7 && len(channels) > 0:
			// mostly vouchers the chain takes; now and then a wrong
			// signer, a stale nonce or an amount past the deposit
			ch := channels[rng.IntN(len(channels))]
			signer, payee, lane := ch.payer, ch.payee, rng.IntN(3)
			if rng.IntN(10) == 0 {
				signer = pick(payers)
			}
			if rng.IntN(10) == 0 {
				payee = pick(payees)
			}
			nonce := ch.nonce + 1
			if rng.IntN(10) == 0 && ch.nonce > 0 {
				nonce = ch.nonce
			}
			amount := ch.lanes[lane] + uint64(rng.IntN(int(ch.deposit/4+2)))
			v := fmt.Sprintf("v%d", i)
			c.step(fmt.Sprintf("voucher %s %s channel=tx:%s lane=%d nonce=%d amount=%d", v, signer, ch.label, lane, nonce, amount))
			ch.nonce, ch.lanes[lane] = nonce, amount
			method := "redeem"
			if rng.IntN(4) == 0 {
				method = "settle"
			}
			line = fmt.Sprintf("call %s paych.%s id=tx:%s voucher=voucher:%s", payee, method, ch.label, v)
		case len(channels) > 0:
			ch := channels[rng.IntN(len(channels))]
			line = fmt.Sprintf("call %s paych.%s id=tx:%s", pick([]string{ch.payer, ch.payee, pick(payees)}),
				pick([]string{"settle", "collect", "collect", "top_up amount=100"}), ch.label)
		default:
			line = "block"
		}
		out, err := c.s.Step(strings.ReplaceAll(strings.ReplaceAll(line, "from= ", ""), "to_member= ", ""), "")
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		height++
		if fields := strings.Fields(line); len(fields) > 2 {
			outcome, _, _ := strings.Cut(out, " ")
			tally[fields[2]+" "+outcome]++
		}
		events.replay(t, out)
		c.checkConserved(t, events)
	}
	t.Logf("outcomes: %v", tally)
	for range 45 { // past every expiry and settle delay
		events.replay(t, c.step("block"))
	}
	c.checkConserved(t, events)
	if events["escrow:paych"] != 0 {
		t.Fatalf("%d credits still in escrow after every channel expired", events["escrow:paych"])
	}
}

// checkConserved compares the balances the events add up to with the
// contract's, and their sum with the supply.
func (c *chain) checkConserved(t *testing.T, events ledgerOf) {
	t.Helper()
	var sum int64
	for _, acct := range []string{"org1", "org1/alice", "org2", "org2/press"} {
		got := int64(c.balance(acct))
		if got != events[acct] {
			t.Fatalf("%s holds %d, its events add up to %d", acct, got, events[acct])
		}
		sum += got
	}
	supply := c.ok(c.step("query credit.supply"))
	var escrow int64
	for _, e := range supply["escrow"].([]any) {
		escrow += int64(e.(map[string]any)["amount"].(float64))
	}
	if escrow != events["escrow:paych"] {
		t.Fatalf("escrow holds %d, its events add up to %d", escrow, events["escrow:paych"])
	}
	if total := int64(supply["supply"].(float64)); sum+escrow != total {
		t.Fatalf("balances %d + escrow %d != supply %d", sum, escrow, total)
	}
}
