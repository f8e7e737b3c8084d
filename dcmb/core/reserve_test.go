package core

import (
	"strings"
	"testing"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
)

// A sender that starts with a reservation beyond what the chain and the
// spool account for records the rest of it as dropped and numbers on
// above it: after a crash no sequence number is used twice, and none
// goes unaccounted for.
func TestRestartAfterACrashRecordsTheReservationAsDropped(t *testing.T) {
	cfg := SenderConfig{Stream: "press-7", Receiver: "org2", Mode: audit.ModeSealed, Interval: time.Second,
		MaxBatch: 1000, SpoolBytes: 1 << 30, SpoolTimeout: time.Hour}
	rec := Recovery{Org: "org1", Stream: &audit.Stream{Org: "org1", Next: 100}, Reserved: 100_500}
	s, err := NewSender(cfg, rec, time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if s.Next() != 100_500 {
		t.Fatalf("next %d, want numbering to go on above the reservation", s.Next())
	}
	var sealed *Seal
	for _, a := range s.Ready() {
		if a, ok := a.(Seal); ok {
			sealed = &a
		}
	}
	if sealed == nil || sealed.Batch.FirstSeq != 100 || sealed.Batch.Count != 100_400 || !strings.Contains(sealed.Batch.Dropped, "without sealing") {
		t.Fatalf("want the range 100-100499 sealed as dropped, got %+v", sealed)
	}
	// a clean stop leaves a reservation equal to next: nothing recorded
	rec.Reserved = 100
	s, err = NewSender(cfg, rec, time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Ready() {
		if _, ok := a.(Seal); ok {
			t.Fatalf("a clean restart sealed %+v", a)
		}
	}
}
