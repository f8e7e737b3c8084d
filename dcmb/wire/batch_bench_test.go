package wire

import (
	"crypto/rand"
	"testing"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/evidence"
)

func benchBatch(n int) *Batch {
	b := &Batch{Stream: "bench", Msgs: make([]Message, n)}
	for i := range b.Msgs {
		v := make([]byte, 256)
		rand.Read(v)
		b.Msgs[i] = Message{Seq: uint64(i), Key: "m", Value: v}
	}
	return b
}

// BenchmarkCommit is one interval's commitment per mode, per message of
// 256 B: go test -bench Commit ./dcmb/wire
func BenchmarkCommit(b *testing.B) {
	var secret evidence.StreamSecret
	rand.Read(secret[:])
	batch := benchBatch(10_000)
	for _, mode := range []string{audit.ModeSealed, audit.ModePaper} {
		b.Run(mode, func(b *testing.B) {
			batch.Mode, batch.PaperSalt = mode, make([]byte, 32)
			for b.Loop() {
				batch.ComputeRoot(secret)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(batch.Msgs)), "ns/msg")
		})
	}
}
