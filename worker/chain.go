// What the worker reads from and writes to the chain, through its node.

package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/txerr"
)

// notifier wakes every waiter at once, each time something happened.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// watch wakes the worker at every compute event on the channel, so that
// it sees a job's changes within the block that made them; it reconnects
// when the stream ends.
func (w *Worker) watch(ctx context.Context) {
	for ctx.Err() == nil {
		err := w.cfg.Client.Events(ctx, w.cfg.Channel, -1, func(m apiclient.EventMessage) bool {
			if m.Event.Contract == compute.Name {
				w.wake.notify()
			}
			return true
		}, false)
		if ctx.Err() != nil {
			return
		}
		w.cfg.Log.Debug("event stream ended; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// call signs and submits a compute method; a transaction the block
// refused is an error carrying the chain's reason.
func (w *Worker) call(ctx context.Context, method string, args any) (*apiclient.TxResponse, error) {
	r, err := w.cfg.Client.Call(ctx, w.cfg.Identity, w.cfg.Channel, compute.Name, method, args)
	if err != nil {
		return nil, err
	}
	if r.Code != 0 {
		return r, fmt.Errorf("%s refused in block %d (tx %s): %w", method, r.Height, short(r.TxID), &txerr.Error{Code: txerr.Code(r.Code), Msg: r.Error})
	}
	return r, nil
}

func (w *Worker) job(ctx context.Context, id string) (*compute.Job, error) {
	j, err := apiclient.Query[compute.Job](ctx, w.cfg.Client, w.cfg.Channel, compute.Name, "job", compute.JobArgs{Job: id})
	return &j, err
}

// until waits for the job to satisfy done, reading it at every compute
// event and at least every second, until ctx ends.
func (w *Worker) until(ctx context.Context, id string, done func(*compute.Job) bool) (*compute.Job, error) {
	for {
		wake := w.wake.wait()
		j, err := w.job(ctx, id)
		if err == nil && done(j) {
			return j, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return j, err
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

func (s *slotView) find(j *compute.Job, worker string) bool {
	for i := range j.Slots {
		if j.Slots[i].Worker == worker {
			*s = slotView{&j.Slots[i]}
			return true
		}
	}
	return false
}

type slotView struct{ *compute.Slot }

func decodeResult(r *apiclient.TxResponse, v any) error { return json.Unmarshal(r.Result, v) }
