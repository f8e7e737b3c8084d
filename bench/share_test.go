package bench

import (
	"context"
	"os"
	"testing"
)

// The share harness measures the 1 MB latency and the small-file rate
// beside Kubo's, when a Kubo binary is given (SEALNET_KUBO; a short run,
// the figures come from 'sealnet bench share').
func TestShareHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes and, with SEALNET_KUBO, two Kubo daemons")
	}
	kubo := os.Getenv("SEALNET_KUBO")
	r, err := Share(context.Background(), ShareOptions{Kubo: kubo, TxSecs: 0.5, Repeat: 2, SmallFiles: 300, SmallSize: 1000, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Put1MBms <= 0 || r.Get1MBms <= 0 || r.SmallFiles != 300 || r.SmallFilesPerS <= 0 || r.SmallFilesBlocks == 0 || r.SubfileTPS <= 0 {
		t.Errorf("%+v", r)
	}
	if kubo != "" && (r.KuboSmallFilesPerS <= 0 || r.KuboAdd1MBms <= 0 || r.KuboGet1MBms <= 0) {
		t.Errorf("kubo figures missing: %+v", r)
	}
}
