package bench

import (
	"context"
	"testing"
)

// The harness pays every result through two nodes and finds the channel's
// three transactions (a short run; the figures come from 'sealnet bench
// paych' or BenchmarkPaych).
func TestPaychHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a two-node consortium")
	}
	r, err := Paych(context.Background(), PaychOptions{Results: 500, InFlight: 16, Verify: 2_000})
	if err != nil {
		t.Fatal(err)
	}
	if r.VouchersDurablePerS <= 0 || r.VouchersVerifiedPerS <= 0 || r.VouchersSignedPerS <= 0 || r.Fsyncs == 0 || r.PayP99Ms < r.PayP50Ms {
		t.Fatalf("%+v", r)
	}
	if r.ChainTxs != 3 || r.Paid != 500 {
		t.Fatalf("%d results paid %d in %d chain transactions", r.Results, r.Paid, r.ChainTxs)
	}
}

// BenchmarkPaych reports vouchers/s stored durably between two nodes and
// verified only, and chain transactions per 1,000 results:
// go test -bench Paych -benchtime 1x ./bench
func BenchmarkPaych(b *testing.B) {
	for b.Loop() {
		r, err := Paych(context.Background(), PaychOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.VouchersDurablePerS, "durable_vouchers/s")
		b.ReportMetric(r.VouchersVerifiedPerS, "verified_vouchers/s")
		b.ReportMetric(r.ChainTxPer1000Results, "chain_tx/1000_results")
	}
}
