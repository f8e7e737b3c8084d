// The node's payment-channel service: vouchers over libp2p, the durable
// voucher journal, redeeming on settles (package payment).

package daemon

import (
	"path/filepath"

	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/payment"
)

// startPayments starts the payment service on the node's libp2p host,
// keeping its journal in the home's payments/ directory, and hands it
// every committed block of every hosted channel.
func (d *Daemon) startPayments(h node.Home) error {
	n := d.Node
	p, err := payment.New(payment.Config{Identity: n.Identity, Dir: filepath.Join(string(h), "payments"), Host: d.P2P.Host,
		Members: d.P2P.Gate, Ledger: payment.NodeLedger(n, n.Identity), Log: d.Log})
	if err != nil {
		return err
	}
	d.Payments = p
	d.closers = append(d.closers, p.Close)
	n.OnChannel(func(c *ledger.Channel) { c.App.OnCommit(p.OnBlock) })
	go p.Resume()
	return nil
}
