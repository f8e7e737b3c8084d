// The node's libp2p side and what runs on it: the host and its gate, kept
// equal to the channels' registries, the store shared with channel members,
// and the custodian.

package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/store"
)

func (d *Daemon) startSharing(h node.Home, cfg *node.Config) error {
	n := d.Node
	key, p2pKey, err := hostKey(h, n, d.Log)
	if err != nil {
		return err
	}
	net, err := p2p.Start(key, cfg.P2P, d.Log)
	if err != nil {
		return err
	}
	d.P2P = net
	d.closers = append(d.closers, net.Close)
	n.SetP2P(net)
	if d.Store, err = store.OpenShared(filepath.Join(string(h), "store"), net.Host, net.Gate.Admits); err != nil {
		return err
	}
	d.closers = append(d.closers, d.Store.Close)
	d.Custodian = custodian.New(custodian.Config{
		Identity: n.Identity, Dir: filepath.Join(string(h), "datakeys"), Channels: n, Host: net.Host,
		Policy: func() custodian.Policy { return n.Config().Share },
		Forget: d.Store.Forget, Log: d.Log,
	})
	d.closers = append(d.closers, func() error { d.Custodian.Close(); return nil })
	var bind *binder
	if p2pKey != nil {
		bind = newBinder(n.Identity, p2pKey, d.Log)
	}
	stopGate := keepGate(n, net.Gate, bind, d.Log)
	d.closers = append(d.closers, func() error { stopGate(); return nil })
	net.KeepConnected(cfg.P2P.Peers)
	d.Log.Info("p2p host up", "peer_id", net.Host.ID(), "addrs", fmt.Sprint(net.Host.Addrs()))
	return nil
}

// keepGate sets the gate's members from every hosted channel's registry,
// and again whenever a block changes a registry or the node starts hosting
// another channel: through one refresher, so an older member set never
// replaces a newer one; bind (nil for a node on its P-256 key) then checks
// that channel's binding of the node's libp2p key. It returns the
// refresher's stop.
func keepGate(n *node.Node, gate *p2p.Gate, bind *binder, log *slog.Logger) func() {
	refresh := func() { gate.Refresh(registries(n, log)) }
	// the gate admits the members before the node serves anyone; the poke
	// below reads again whatever committed since
	refresh()
	r := p2p.NewRefresher(refresh)
	n.OnChannel(func(c *ledger.Channel) {
		c.App.OnCommit(func(b *ledger.Block) {
			for _, tx := range b.Txs {
				for _, e := range tx.Events {
					if e.Contract == registry.Name {
						r.Poke()
						if bind != nil {
							go bind.check(c)
						}
						return
					}
				}
			}
		})
		r.Poke()
		if bind != nil {
			bind.check(c)
		}
	})
	return r.Close
}

// registries reads the enrolled certificates of every hosted channel.
func registries(n *node.Node, log *slog.Logger) map[string][]registry.Cert {
	out := map[string][]registry.Cert{}
	for _, c := range n.Channels() {
		raw, err := c.App.QueryContract(registry.Name, "certs", canon.MustMarshal(struct {
			WithDER bool `cbor:"der,omitempty"`
		}{true}))
		if err != nil {
			log.Error("read registry", "channel", c.Name, "err", err)
			continue
		}
		var certs []registry.Cert
		if err := canon.Unmarshal(raw, &certs); err != nil {
			log.Error("decode registry", "channel", c.Name, "err", err)
			continue
		}
		out[c.Name] = certs
	}
	return out
}
