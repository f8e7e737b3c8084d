package core

import (
	"testing"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
)

// BenchmarkSenderRead is the Sender's cost of one 256-byte message read,
// cuts and seals included (the sealing itself is the driver's).
func BenchmarkSenderRead(b *testing.B) {
	s, _ := NewSender(SenderConfig{Stream: "bench", Receiver: "org2", Mode: audit.ModeSealed, Interval: time.Second, MaxBatch: 200_000,
		SpoolBytes: 1 << 40, SpoolTimeout: time.Hour, Archive: true}, Recovery{Org: "org1"}, t0)
	v := make([]byte, 256)
	now := t0
	n := 0
	for b.Loop() {
		s.ReadMessage(now, Read{Key: "m", Value: v, Time: now.UnixNano()})
		if n++; n%100_000 == 0 {
			now = now.Add(time.Second)
		}
		if s.HasReady() {
			for _, a := range s.Ready() {
				if seal, ok := a.(Seal); ok {
					s.Step(now, Sealed{First: seal.Batch.FirstSeq})
				}
			}
			s.Advance()
		}
	}
}
