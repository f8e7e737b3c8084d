package ledger

import (
	"fmt"
	"testing"

	"github.com/sealnet/sealnet/contract/index"
)

// BenchmarkBlockOfSubfiles is the application's own share of a block of
// 1,000 Subfile calls, signatures already verified (as PreVerify and
// CheckTx leave them): FinalizeBlock and Commit on goleveldb, per
// transaction. go test -bench BlockOfSubfiles ./ledger
func BenchmarkBlockOfSubfiles(b *testing.B) {
	db, err := OpenAppDB(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c := newChainOn(b, db)
	const perBlock = 1000
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		txs := make([][]byte, perBlock)
		for i := range txs {
			txs[i] = c.sign(c.admin, index.Name, "subfile", index.SubfileArgs{HashAddress: testCID,
				Summary: fmt.Sprintf("spindle counter batch %08d of line 4", c.nonce), Keywords: []string{"maintenance", fmt.Sprintf("machine-%03d", i%500)},
				Size: 262144, Type: "application/octet-stream"})
			if _, err := c.app.PreVerify(txs[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for _, r := range c.block(txs...) {
			if r.Code != 0 {
				b.Fatalf("code %d: %s", r.Code, r.Log)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBlock)/1000, "µs/tx")
}
