package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/txerr"
)

// A Sender driven by a random driver (messages, some oversized, a slow
// sealer, a flaky chain, a receiver that comes and goes, a small spool
// and a short timeout) keeps its invariants: every sequence number is
// sealed exactly once, in order, as read or as a drop marker; nothing
// leaves the spool before it is acknowledged, given up or recorded; and
// a due deadline always leads somewhere.
func TestSenderRandomDriver(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomDrive(t, seed) })
	}
}

func randomDrive(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	s, err := NewSender(SenderConfig{Stream: "s", Receiver: "org2", Mode: audit.ModeSealed, Interval: 100 * time.Millisecond,
		MaxBatch: 1 + rng.IntN(8), SpoolBytes: 600, SpoolTimeout: time.Second, Archive: true}, Recovery{Org: "org1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	var (
		read     uint64      // messages read
		sealed   uint64      // the next sequence number a Seal must start at
		sealing  *wire.Batch // outstanding Seal
		anchor   *Anchor     // outstanding Anchor
		deliver  Action      // outstanding delivery action
		acked    uint64      // what the receiver holds
		spooled  = map[uint64]bool{}
		anchored = map[uint64]bool{}
		up       bool // the receiver is reachable
	)
	take := func() {
		for _, a := range s.Ready() {
			switch a := a.(type) {
			case Seal:
				if sealing != nil {
					t.Fatal("two Seals outstanding")
				}
				if a.Batch.FirstSeq != sealed || a.Batch.Count == 0 {
					t.Fatalf("seal of %d+%d, want it to start at %d", a.Batch.FirstSeq, a.Batch.Count, sealed)
				}
				if a.Batch.Dropped == "" {
					for i, m := range a.Batch.Msgs {
						if m.Seq != sealed+uint64(i) {
							t.Fatalf("message %d of the batch at %d has seq %d", i, sealed, m.Seq)
						}
					}
				}
				sealed += a.Batch.Count
				sealing = a.Batch
			case Anchor:
				if anchor != nil {
					t.Fatal("two Anchors outstanding")
				}
				anchor = &a
			case Connect, Send, GiveUp:
				if deliver != nil {
					t.Fatalf("%T while %T is outstanding", a, deliver)
				}
				deliver = a
			case Forget:
				if !spooled[a.First] {
					t.Fatalf("forget %d, which is not spooled", a.First)
				}
				delete(spooled, a.First)
			}
		}
		s.Advance()
	}
	step := func(ev Event) {
		s.Step(now, ev)
		take()
	}
	for range 400 {
		now = now.Add(time.Duration(rng.IntN(60)) * time.Millisecond)
		switch rng.IntN(10) {
		case 0, 1, 2:
			if s.Backlog() < MaxBacklog {
				v := []byte("v")
				if rng.IntN(40) == 0 {
					v = make([]byte, wire.MaxValue+1)
				}
				s.ReadMessage(now, Read{Key: "k", Value: v})
				read++
				take()
			}
		case 3:
			if sealing != nil {
				b := sealing
				sealing = nil
				b.Root = []byte{byte(b.FirstSeq)}
				spooled[b.FirstSeq] = true
				step(Sealed{First: b.FirstSeq, Bytes: b.Bytes()})
			}
		case 4:
			if a := anchor; a != nil {
				anchor = nil
				ev := Anchored{First: a.Batch.FirstSeq, Height: 1}
				if rng.IntN(4) == 0 {
					ev.Err = txerr.New(txerr.Unavailable, "mempool full")
				} else if a.Batch.Dropped == "" {
					anchored[a.Batch.FirstSeq] = true
				}
				step(ev)
			}
		case 5:
			up = rng.IntN(2) == 0
		case 6:
			switch a := deliver.(type) {
			case Connect:
				deliver = nil
				if up {
					step(Welcomed{Next: acked})
				} else {
					step(ConnectFailed{Err: errors.New("unreachable")})
				}
			case Send:
				deliver = nil
				if !anchored[a.First] {
					t.Fatalf("send of %d, which is not anchored", a.First)
				}
				if up {
					acked = max(acked, a.First+a.Count)
					step(Acked{Next: acked})
				} else {
					step(SendFailed{First: a.First, Err: errors.New("reset")})
				}
			case GiveUp:
				deliver = nil
				if !anchored[a.First] {
					t.Fatalf("give up %d, which is not anchored", a.First)
				}
				step(GaveUp{First: a.First})
			}
		default:
			step(Tick{})
		}
		// a due deadline with nothing outstanding leads to an action or a
		// later deadline, so that a driver never spins
		if d := s.Deadline(); !d.After(now) {
			before := d
			step(Tick{})
			if !s.Deadline().After(now) && s.Deadline().Equal(before) && sealing == nil && anchor == nil && deliver == nil {
				t.Fatalf("deadline %s is due at %s and a tick changes nothing", d.Sub(t0), now.Sub(t0))
			}
		}
	}
	s.Step(now, Stop{})
	take()
	for sealing != nil {
		b := sealing
		sealing = nil
		step(Sealed{First: b.FirstSeq, Bytes: b.Bytes()})
	}
	if sealed != read || s.Next() != read {
		t.Fatalf("read %d messages, sealed up to %d, next %d", read, sealed, s.Next())
	}
}
