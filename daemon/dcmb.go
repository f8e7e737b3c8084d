// Running a DCMB on the node: the one place that builds a runtime, hands
// it its sources, makes it the API's auditor and runs it.

package daemon

import (
	"context"
	"sync"

	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/source"
)

// DCMB is a DCMB runtime running on the node.
type DCMB struct {
	Runtime *dcmb.Runtime

	stop context.CancelFunc
	done chan error
	once sync.Once
	err  error
}

// StartDCMB starts the pipelines and receivers of cfg on the node, with
// sources replacing the configured source of the streams they name, and
// makes the runtime answer the API's audit-bundle exports. It becomes
// d.DCMB; every runtime started stops with the node, or earlier with Stop.
func (d *Daemon) StartDCMB(cfg *dcmb.Config, sources map[string]source.Source) (*DCMB, error) {
	rt, err := dcmb.New(d.Node, cfg)
	if err != nil {
		return nil, err
	}
	for stream, src := range sources {
		if err := rt.SetSource(stream, src); err != nil {
			return nil, err
		}
	}
	d.Server.SetAuditor(rt)
	ctx, cancel := context.WithCancel(context.Background())
	r := &DCMB{Runtime: rt, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- rt.Run(ctx) }()
	d.Log.Info("dcmb running", "streams", len(cfg.Streams), "receives", len(cfg.Receive), "channel", cfg.Channel)
	d.mu.Lock()
	d.DCMB = r
	d.closers = append(d.closers, r.Stop)
	d.mu.Unlock()
	return r, nil
}

// Stop stops the runtime and returns what its run ended with; later calls
// return the same.
func (r *DCMB) Stop() error {
	r.once.Do(func() {
		r.stop()
		r.err = <-r.done
	})
	return r.err
}
