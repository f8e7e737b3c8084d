// The payee's acknowledgements on one stream.

package payment

import (
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// acker writes a stream's acknowledgements: each time the journal makes
// more of the stream's vouchers durable, one Ack of the highest, so a
// flush of many vouchers costs one frame. Nothing is acknowledged before
// it is on disk.
type acker struct {
	st  network.Stream
	wmu sync.Mutex // one frame at a time on the stream

	mu      sync.Mutex
	cond    *sync.Cond
	durable uint64 // the highest sequence number on disk (they arrive in order)
	sent    uint64 // the highest acknowledged
	failed  uint64 // the sequence number the journal failed on (0: none)
	ferr    error
	stopped bool
	exited  chan struct{}
}

func newAcker(st network.Stream) *acker {
	a := &acker{st: st, exited: make(chan struct{})}
	a.cond = sync.NewCond(&a.mu)
	go a.run()
	return a
}

func (a *acker) write(f *Frame) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.st.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return WriteFrame(a.st, f)
}

// done is the journal's word on voucher seq.
func (a *acker) done(seq uint64, err error) {
	a.mu.Lock()
	if err != nil {
		if a.failed == 0 {
			a.failed, a.ferr = seq, err
		}
	} else if seq > a.durable {
		a.durable = seq
	}
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *acker) run() {
	defer close(a.exited)
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		for !a.stopped && a.durable == a.sent && a.failed == 0 {
			a.cond.Wait()
		}
		if a.durable > a.sent {
			n := a.durable
			a.mu.Unlock()
			err := a.write(&Frame{Kind: KindAck, Seq: n})
			a.mu.Lock()
			a.sent = n
			a.cond.Broadcast()
			if err != nil {
				return
			}
			continue
		}
		if a.failed != 0 {
			seq, err := a.failed, a.ferr
			a.mu.Unlock()
			a.write(&Frame{Kind: KindReject, Seq: seq, Code: CodeStorage, Reason: trim(err.Error())})
			a.st.Close() // the reader sees the stream end
			a.mu.Lock()
			a.sent = ^uint64(0)
			a.cond.Broadcast()
			return
		}
		if a.stopped {
			return
		}
	}
}

// await waits until every voucher up to seq is acknowledged, or cannot
// be.
func (a *acker) await(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.sent < seq && a.failed == 0 && !a.stopped {
		a.cond.Wait()
	}
}

// reject sends the refusal of voucher seq (the earlier ones acknowledged
// first).
func (a *acker) reject(seq uint64, r *Refused) {
	a.mu.Lock()
	failed := a.failed != 0
	a.mu.Unlock()
	if !failed {
		a.write(&Frame{Kind: KindReject, Seq: seq, Code: r.Code, Reason: trim(r.Reason)})
	}
}

func (a *acker) stop() {
	a.mu.Lock()
	a.stopped = true
	a.cond.Broadcast()
	a.mu.Unlock()
	<-a.exited
}

// trim fits a reason in MaxReason bytes of UTF-8.
func trim(s string) string {
	if len(s) > MaxReason {
		s = strings.ToValidUTF8(s[:MaxReason], "")
	}
	return s
}
