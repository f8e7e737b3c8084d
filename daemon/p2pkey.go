// The node's libp2p identity: its Ed25519 key, bound to its node
// certificate on every hosted channel, or for a home made before libp2p
// keys, the certificate's P-256 key.

package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
)

// hostKey returns the key the node's libp2p host runs on: the home's
// libp2p key, or the node certificate's key when the home has none.
func hostKey(h node.Home, n *node.Node, log *slog.Logger) (any, ed25519.PrivateKey, error) {
	key, err := identity.LoadP2PKey(h.P2PKey())
	if errors.Is(err, os.ErrNotExist) {
		log.Warn("libp2p identity is the node certificate's P-256 key (a home made before libp2p keys): "+
			"Go peers and Kubo reach the node, JavaScript libp2p (Helia) cannot; 'sealnet p2p key' makes an Ed25519 key for the next start",
			"home", string(h))
		return n.Identity.Key, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return key, key, nil
}

// binder keeps the node's libp2p key bound to its certificate on every
// hosted channel: a channel whose registry enrolls the node's certificate
// without this key (one the node joined, or a home given its key after
// its channels were made) gets a registry.bind_p2p_key transaction, one
// at a time per channel, checked again after each block that changes the
// registry.
type binder struct {
	node *identity.Identity
	key  ed25519.PrivateKey
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]bool
}

func newBinder(node *identity.Identity, key ed25519.PrivateKey, log *slog.Logger) *binder {
	return &binder{node: node, key: key, log: log, pending: map[string]bool{}}
}

// check submits the binding on channel c if its registry lacks it.
func (b *binder) check(c *ledger.Channel) {
	pub := b.key.Public().(ed25519.PublicKey)
	rec, err := c.App.CertRecord(b.node.Member.Fingerprint)
	if err != nil || rec.Revoked != nil || bytes.Equal(rec.P2PKey, pub) {
		return // not enrolled here (yet), revoked, or bound
	}
	b.mu.Lock()
	if b.pending[c.Name] {
		b.mu.Unlock()
		return
	}
	b.pending[c.Name] = true
	b.mu.Unlock()
	go func() {
		defer func() {
			b.mu.Lock()
			delete(b.pending, c.Name)
			b.mu.Unlock()
		}()
		args := registry.BindP2PKeyArgs{Key: pub, Sig: identity.SignP2PBinding(b.key, b.node.Member.Fingerprint)}
		raw, err := envelope.SignCall(b.node, c.Name, registry.Name, "bind_p2p_key", args, time.Now())
		if err != nil {
			b.log.Error("bind libp2p key", "channel", c.Name, "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		r, err := c.Submit(ctx, raw)
		switch {
		case err != nil:
			b.log.Warn("bind libp2p key: not submitted; retried after the registry's next change", "channel", c.Name, "err", err)
		case r.Code != 0:
			b.log.Warn("bind libp2p key: rejected", "channel", c.Name, "code", r.Code, "err", r.Log)
		default:
			b.log.Info("bound the libp2p key to the node certificate", "channel", c.Name, "height", r.Height)
		}
	}()
}
