package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sealnetBinary builds the sealnet binary the network harness starts.
func sealnetBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sealnet")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sealnet/sealnet/cmd/sealnet").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// The network harness starts two validator processes of each kind, drives
// both networks to commits through the same load generator, and reports
// how the load was spread, the validators' CPU and a profile of each
// validator 1 (a short run; the figures come from
// 'sealnet bench ledger --validators N').
func TestNetworkHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sealnet and runs four validator processes")
	}
	prof := t.TempDir()
	r, err := Network(context.Background(), NetworkOptions{Binary: sealnetBinary(t), Validators: 2, Duration: 2 * time.Second,
		Clients: 2, Batch: 20, TimeoutCommit: 10 * time.Millisecond, Profile: prof, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []NetTarget{r.Ours, r.KVStoreSig} {
		if tg.Committed == 0 || tg.Rejected != 0 || tg.TPS <= 0 || tg.P99ms < tg.P50ms || len(tg.Nodes) != 2 || tg.CPU.UserS <= 0 {
			t.Errorf("%s: %+v", tg.Name, tg)
		}
		for i, n := range tg.Nodes {
			if n.Requests == 0 || n.Committed == 0 {
				t.Errorf("%s: validator %d took no load: %+v", tg.Name, i+1, n)
			}
		}
		if fi, err := os.Stat(tg.Profile); err != nil || fi.Size() == 0 {
			t.Errorf("%s: no profile of validator 1 (%v)", tg.Name, err)
		}
		if tg.TxBytes != r.Ours.TxBytes {
			t.Errorf("%s transactions are %d bytes, ours %d", tg.Name, tg.TxBytes, r.Ours.TxBytes)
		}
	}
	if r.Ratio <= 0 || r.OursTPS != r.Ours.TPS || r.KVStoreSigTPS != r.KVStoreSig.TPS || r.P99ms != r.Ours.P99ms {
		t.Errorf("result %+v", r)
	}
}

// testWriter logs progress lines.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}
