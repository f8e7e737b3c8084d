// The custodian service: its configuration, its life cycle and what the
// org's members ask of it through the API (deposit and shred data keys,
// list and settle the approval queue).

package custodian

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/seal"
	"github.com/sealnet/sealnet/share"
	"github.com/sealnet/sealnet/txerr"
)

// Channels are the channels the node hosts.
type Channels interface {
	Channel(name string) (*ledger.Channel, error)
}

// Config is what a custodian is built from.
type Config struct {
	Identity *identity.Identity // the node's: answers are signed by it, keys sealed to it
	Dir      string             // the key store
	Channels Channels
	Host     host.Host     // serves share.Protocol, relays members' requests
	Policy   func() Policy // the owner's policy as it is now
	// Forget removes an object's local blocks once its key is shredded.
	Forget func(ctx context.Context, c cid.Cid) error
	Log    *slog.Logger
}

// Custodian keeps the data keys of its org's objects and answers key
// requests for them; it also relays its own members' requests to other
// custodians.
type Custodian struct {
	cfg   Config
	keys  *keyStore
	ver   *share.Verifier
	queue *queue
}

// New starts a custodian: it answers requests on cfg.Host from now on.
func New(cfg Config) *Custodian {
	c := &Custodian{cfg: cfg, keys: &keyStore{dir: cfg.Dir, key: cfg.Identity.Key}, queue: newQueue()}
	c.ver = &share.Verifier{Self: cfg.Identity, Tau: ledger.DefaultTau, Resolve: c.resolve}
	cfg.Host.SetStreamHandler(share.Protocol, c.handle)
	return c
}

// Close stops answering requests.
func (c *Custodian) Close() { c.cfg.Host.RemoveStreamHandler(share.Protocol) }

func (c *Custodian) resolve(channel string, fp identity.Fingerprint) (*identity.Member, bool, error) {
	ch, err := c.cfg.Channels.Channel(channel)
	if err != nil {
		return nil, false, err
	}
	return ch.App.Certificate(fp)
}

// PutKey stores the data key of object obj on channel, handed over by
// owner, a member of this node's org. A key already held is replaced only
// by the member that deposited it.
func (c *Custodian) PutKey(channel string, obj cid.Cid, key []byte, owner *identity.Member) error {
	if len(key) != seal.KeySize {
		return txerr.New(txerr.BadArgs, "data key is %d bytes, want %d", len(key), seal.KeySize)
	}
	if _, err := c.cfg.Channels.Channel(channel); err != nil {
		return err
	}
	if owner == nil {
		return txerr.New(txerr.UnknownCert, "a data key is deposited by its owner, and none was authenticated")
	}
	if _, held, err := c.keys.read(channel, obj.String()); err == nil && held != owner.Fingerprint {
		return txerr.New(txerr.RoleDenied, "the data key of %s was deposited by certificate %s; only that member may replace it", obj, held)
	}
	return c.keys.put(channel, obj.String(), key, owner.Fingerprint)
}

// Shred destroys the data key of obj (overwritten, then removed) and the
// local blocks of its ciphertext. Only the key's owner or an admin of the
// org may shred it.
func (c *Custodian) Shred(ctx context.Context, channel string, obj cid.Cid, by *identity.Member) error {
	if by == nil {
		return txerr.New(txerr.UnknownCert, "a data key is shredded by its owner or an admin, and none was authenticated")
	}
	_, owner, err := c.keys.read(channel, obj.String())
	switch {
	case err == nil && owner != by.Fingerprint && by.Role != identity.RoleAdmin:
		return txerr.New(txerr.RoleDenied, "the data key of %s belongs to certificate %s; %s@%s is neither its owner nor an admin", obj, owner, by.ID, by.Org)
	case errors.Is(err, os.ErrNotExist) && by.Role != identity.RoleAdmin:
		// already shredded (a retried purge): what blocks remain have no
		// owner on record, and only an admin clears them
		return nil
	}
	if err := c.keys.destroy(channel, obj.String()); err != nil {
		return err
	}
	return c.cfg.Forget(ctx, obj)
}

// Pending lists the requests waiting for the owner's approval, oldest
// first.
func (c *Custodian) Pending() []Pending { return c.queue.list() }

// Decide approves or denies a pending request; the requester's next
// request for the same entry gets the verdict.
func (c *Custodian) Decide(id string, approve bool) (Pending, error) {
	return c.queue.settle(id, approve)
}
