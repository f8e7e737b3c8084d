package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// A short run of the compute benchmark: every figure is measured.
func TestComputeBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a consortium of four and builds WebAssembly modules")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	r, err := Compute(ctx, ComputeOptions{Jobs: 3, Throughput: 4, Attest: 100 * time.Millisecond, Samples: 2000, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if r.JobLatencyP50Ms <= 0 || r.JobLatencyP99Ms < r.JobLatencyP50Ms || r.JobsPerS <= 0 || r.TDXVerifyPerS <= 0 || r.SNPVerifyPerS <= 0 ||
		r.WasmNativeRatio <= 0 || len(r.Programs) != 2 || r.CompileColdMs <= 0 || r.CompileCachedMs <= 0 || r.Workers != 3 {
		t.Fatalf("%+v", r)
	}
}
