// The node's side of compute jobs: the key release its custodian answers
// and relays (compute/custody), and what the API hands it.

package daemon

import (
	"context"

	"github.com/sealnet/sealnet/compute/custody"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/identity"
)

// startCompute starts the key release on the libp2p host; it needs the
// custodian, so a node without p2p.listen has none.
func (d *Daemon) startCompute() {
	if d.Custodian == nil {
		return
	}
	d.Compute = custody.New(custody.Config{Identity: d.Node.Identity, Channels: d.Node, Host: d.P2P.Host, Keys: d.Custodian, Log: d.Log})
	d.closers = append(d.closers, func() error { d.Compute.Close(); return nil })
}

// computeAPI is the API's view of the key release.
type computeAPI struct {
	cust *custodian.Custodian
	svc  *custody.Service
}

func (a computeAPI) DepositSalt(channel, job string, salt []byte, by *identity.Member) error {
	return a.cust.PutSalt(channel, job, salt, by)
}

func (a computeAPI) RelayKeys(ctx context.Context, channel string, c identity.Fingerprint, signed []byte) ([]byte, error) {
	return a.svc.Relay(ctx, channel, c, signed)
}
