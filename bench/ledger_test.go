package bench

import (
	"context"
	"testing"
	"time"
)

// The harness drives all three targets to commits (a short run; the figures
// themselves come from 'sealnet bench ledger' or BenchmarkLedger).
func TestLedgerHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three CometBFT nodes")
	}
	r, err := Ledger(context.Background(), LedgerOptions{Duration: time.Second, Clients: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []Target{r.Ours, r.KVStore, r.KVStoreSig} {
		if tg.Committed == 0 || tg.Rejected != 0 || tg.TPS <= 0 || tg.P99ms < tg.P50ms {
			t.Errorf("%s: %+v", tg.Name, tg)
		}
		if tg.TxBytes != r.Ours.TxBytes {
			t.Errorf("%s transactions are %d bytes, ours %d", tg.Name, tg.TxBytes, r.Ours.TxBytes)
		}
	}
	if r.Ratio <= 0 {
		t.Errorf("ratio %f", r.Ratio)
	}
}

// BenchmarkLedger reports committed Subfile tx/s beside the kvstore
// baselines from the same run: go test -bench Ledger -benchtime 1x ./bench
func BenchmarkLedger(b *testing.B) {
	for b.Loop() {
		r, err := Ledger(context.Background(), LedgerOptions{Duration: 5 * time.Second, Clients: 2000})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.OursTPS, "ours_tx/s")
		b.ReportMetric(r.KVStoreSigTPS, "kvstore_sig_tx/s")
		b.ReportMetric(r.KVStoreTPS, "kvstore_tx/s")
		b.ReportMetric(r.Ratio, "ratio")
		b.ReportMetric(r.P99ms, "p99_ms")
	}
}
