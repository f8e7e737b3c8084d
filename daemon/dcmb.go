// Running a DCMB on the node: the one place that builds a runtime, hands
// it its sources, makes it the API's auditor and runs it.

package daemon

import (
	"context"
	"errors"
	"path/filepath"
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
	deps, err := d.dcmbDeps(cfg)
	if err != nil {
		return nil, err
	}
	rt, err := dcmb.Open(deps, cfg)
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

// dcmbDeps is what a runtime of cfg needs of the node: its org, the
// home's dcmb directory, its logger, the channel cfg names signing with
// the node's identity, and the p2p host with its gate.
func (d *Daemon) dcmbDeps(cfg *dcmb.Config) (dcmb.Deps, error) {
	if err := cfg.Validate(); err != nil { // fills the default channel
		return dcmb.Deps{}, err
	}
	n := d.Node
	if n.Share() == nil {
		return dcmb.Deps{}, errors.New("the DCMB needs the node's p2p host: set p2p.listen in config.toml")
	}
	ch, err := n.Channel(cfg.Channel)
	if err != nil {
		return dcmb.Deps{}, err
	}
	return dcmb.Deps{Org: n.Config().Org, Dir: filepath.Join(string(n.Home), "dcmb"), Log: n.Log,
		Chain: dcmb.ChannelChain(ch, n.Identity), Host: n.Share().Host, Peers: n.Share().Gate}, nil
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
