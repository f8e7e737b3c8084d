// The requester's side of the key-request protocol: a member's sealed
// request, relayed by its own node to the node of the object's custodian.

package custodian

import (
	"context"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/share"
	"github.com/sealnet/sealnet/txerr"
)

// RequestKey relays a sealed key request on channel to the node of the
// custodian with certificate fingerprint custodian and returns its sealed
// answer. The request is sealed to the custodian, so this node reads
// neither it nor the answer.
func (c *Custodian) RequestKey(ctx context.Context, channel string, custodian identity.Fingerprint, sealed []byte) ([]byte, error) {
	ch, err := c.cfg.Channels.Channel(channel)
	if err != nil {
		return nil, err
	}
	rec, err := ch.App.CertRecord(custodian)
	if err != nil {
		return nil, err
	}
	pid, err := p2p.PeerOfCert(*rec)
	if err != nil {
		return nil, err
	}
	if pid == c.cfg.Host.ID() {
		// the custodian is this node: a member of its own org asks
		f := c.serve(sealed, pid)
		if f == nil {
			return nil, txerr.New(txerr.Unavailable, "this node, the custodian, could not answer: see its log")
		}
		return decodeAnswer(f)
	}
	st, err := c.cfg.Host.NewStream(network.WithAllowLimitedConn(ctx, "keyreq"), pid, share.Protocol)
	if err != nil {
		return nil, txerr.New(txerr.Unavailable, "custodian node %s (%s@%s) is not reachable: %v", pid, rec.ID, rec.Org, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := share.WriteFrame(st, sealed); err != nil {
		return nil, err
	}
	st.CloseWrite()
	f, err := share.ReadFrame(st)
	if err != nil {
		return nil, txerr.New(txerr.Unavailable, "custodian closed the stream: %v", err)
	}
	return decodeAnswer(f)
}

// decodeAnswer reads the custodian's answer frame.
func decodeAnswer(f []byte) ([]byte, error) {
	if len(f) == 0 {
		return nil, txerr.New(txerr.Malformed, "empty answer")
	}
	switch f[0] {
	case frameAnswer:
		return f[1:], nil
	case frameError:
		return nil, txerr.New(txerr.Rejected, "custodian rejected the request: %s", f[1:])
	}
	return nil, txerr.New(txerr.Malformed, "unknown answer frame %q", f[0])
}
