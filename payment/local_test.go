package payment_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/credit"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/payment"
)

// Two companies' nodes in one process, over CometBFT and libp2p: org1's
// node pays org2's per result.
func TestBetweenTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a two-node consortium")
	}
	c, err := local.Start(t.TempDir(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payer, payee := c.Orgs[0], c.Orgs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Mint(ctx, "m1", "org1", 100_000); err != nil {
		t.Fatal(err)
	}
	if err := payer.FundNode(ctx, 50_000); err != nil {
		t.Fatal(err)
	}
	t.Run("1000 results, three transactions", func(t *testing.T) {
		ch, err := payer.OpenChannel(ctx, "org2", 10_000, 100_000, 1_000)
		if err != nil {
			t.Fatal(err)
		}
		pay(t, ctx, payer.Daemon.Payments, ch.ID, 1000, 3)
		// what a worker of org2 asks its node before taking on work
		lanes, err := payee.API.Lanes(ctx, "default", ch.ID, 7000)
		if err != nil || lanes.Total != 3000 || lanes.CanPay == nil || !*lanes.CanPay {
			t.Fatalf("lanes %+v, %v", lanes, err)
		}
		if lanes, err = payee.API.Lanes(ctx, "default", ch.ID, 7001); err != nil || *lanes.CanPay || !strings.Contains(lanes.Reason, "can pay 7000 more") {
			t.Fatalf("lanes for 7001: %+v, %v", lanes, err)
		}
		if f, err := payee.API.ChannelFrom(ctx, "default", "org1", 7000); err != nil || f.Channel != ch.ID {
			t.Fatalf("a channel from org1: %+v, %v", f, err)
		}
		if _, err := payee.API.ChannelFrom(ctx, "default", "org1", 7001); err == nil {
			t.Fatal("a channel from org1 for 7001")
		}
		rec, err := payee.Daemon.Payments.Cash(ctx, "default", ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != paych.StateClosed || rec.Paid != 3000 || rec.Refunded != 7000 || rec.Txs != 3 {
			t.Fatalf("after 1000 results the channel is %s, paid %d, refunded %d, in %d transactions", rec.State, rec.Paid, rec.Refunded, rec.Txs)
		}
		if bal := balance(t, ctx, payee, "org2", ""); bal != 3000 {
			t.Fatalf("org2 holds %d", bal)
		}
	})
	t.Run("the payee redeems on the payer's settle", func(t *testing.T) {
		ch, err := payer.OpenChannel(ctx, "org2", 500, 100_000, 1_000)
		if err != nil {
			t.Fatal(err)
		}
		pay(t, ctx, payer.Daemon.Payments, ch.ID, 50, 2)
		// org1's admin settles: org2's node was not asked and has 1,000
		// blocks to answer
		r, err := payer.API.Call(ctx, payer.Admin, "default", paych.Name, "settle", paych.VoucherArgs{Channel: ch.ID})
		if err != nil || r.Code != 0 {
			t.Fatalf("settle: %v %+v", err, r)
		}
		var rec paych.Channel
		for {
			rec, err = apiclient.Query[paych.Channel](ctx, payee.API, "default", paych.Name, "channel", paych.ChannelArgs{Channel: ch.ID})
			if err != nil {
				t.Fatal(err)
			}
			if rec.State == paych.StateClosed || ctx.Err() != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if rec.State != paych.StateClosed || rec.SettledBy != paych.ByPayee || rec.Paid != 100 || rec.Refunded != 400 {
			t.Fatalf("after the payer's settle: %s, settled by %s, paid %d, refunded %d", rec.State, rec.SettledBy, rec.Paid, rec.Refunded)
		}
	})
}

// pay makes n payments of price each on channel id, 8 at a time.
func pay(t *testing.T, ctx context.Context, s *payment.Service, id string, n int, price uint64) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := s.Pay(ctx, payment.Payment{Chain: "default", Channel: id, Amount: price}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func balance(t *testing.T, ctx context.Context, o *local.Org, org, member string) uint64 {
	a, err := apiclient.Query[credit.Account](ctx, o.API, "default", credit.Name, "balance", credit.BalanceArgs{Org: org, Member: member})
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}
