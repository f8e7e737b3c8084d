package bench

import (
	"context"
	"testing"
	"time"
)

// The harness moves every message through both the DCMB and Mosquitto (a
// short run; the figures come from 'sealnet bench dcmb' or BenchmarkDCMB).
func TestDCMBHarness(t *testing.T) {
	r, err := DCMB(context.Background(), DCMBOptions{Messages: 20_000, Rate: 5_000, Steady: 2 * time.Second, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages != 20_000 || r.MsgsPerS <= 0 || r.Batches == 0 || r.Txs == 0 || r.AnchorLatencyMs < r.AnchorP50Ms || r.SteadyMsgsPerS <= 0 ||
		r.MosquittoMsgsPerS <= 0 || r.PaperCommitMs <= 0 || r.SealedCommitMs <= 0 || r.RulesMsgsPerS <= 0 || r.ModuleMsgsPerS <= 0 ||
		r.ModuleSteadyMsgsPerS <= 0 || r.ModuleBatchMs <= 0 {
		t.Fatalf("%+v", r)
	}
	if r.Txs < uint64(r.Batches) {
		t.Fatalf("%d transactions for %d anchored batches", r.Txs, r.Batches)
	}
}

// BenchmarkDCMB reports delivered-and-anchored messages/s beside Mosquitto
// from the same run: go test -bench DCMB -benchtime 1x ./bench
func BenchmarkDCMB(b *testing.B) {
	for b.Loop() {
		r, err := DCMB(context.Background(), DCMBOptions{Messages: 1_000_000})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.MsgsPerS, "msgs/s")
		b.ReportMetric(r.ModuleMsgsPerS, "module_msgs/s")
		b.ReportMetric(r.MosquittoMsgsPerS, "mosquitto_msgs/s")
		b.ReportMetric(r.AnchorLatencyMs, "anchor_p99_ms")
		b.ReportMetric(r.TxPerMillionMsgs, "tx/1M_msgs")
	}
}
