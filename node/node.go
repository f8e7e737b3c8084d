package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/p2p"
)

// Node is a running node's hosted channels, with its identity and
// configuration.
type Node struct {
	Home     Home
	Log      *slog.Logger
	Identity *identity.Identity // the node's own certificate and key

	contracts func() []contract.Contract // the root's list, fresh for each channel

	mu       sync.RWMutex
	cfg      *Config
	channels map[string]*ledger.Channel
	started  []func(*ledger.Channel) // OnChannel's callbacks
	p2p      *p2p.Node
}

// OnChannel calls fn with every hosted channel, now and whenever the node
// starts hosting another one (channel create and join).
func (n *Node) OnChannel(fn func(*ledger.Channel)) {
	n.mu.Lock()
	n.started = append(n.started, fn)
	n.mu.Unlock()
	for _, c := range n.Channels() {
		fn(c)
	}
}

// SetP2P records the libp2p host and gate the daemon started for the node.
func (n *Node) SetP2P(p *p2p.Node) {
	n.mu.Lock()
	n.p2p = p
	n.mu.Unlock()
}

// Share returns the node's libp2p host and gate (nil when the node has no
// p2p.listen address). The DCMB runtime reaches them here until it is
// handed them directly.
func (n *Node) Share() *p2p.Node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.p2p
}

// Open loads the home and starts every configured channel, each with the
// contract list that contracts returns (the composition root's). A home
// that is damaged (unreadable config,
// missing keys or genesis, corrupt database) refuses to start with a
// message naming what is wrong.
func Open(h Home, contracts func() []contract.Contract, log *slog.Logger) (*Node, error) {
	if !h.Exists() {
		return nil, fmt.Errorf("%s is not a sealnet home (no %s): run 'sealnet init' first", h, ConfigFile)
	}
	cfg, err := h.LoadConfig()
	if err != nil {
		return nil, err
	}
	id, err := identity.LoadIdentity(h.Keys(), cfg.NodeIdentity)
	if err != nil {
		return nil, fmt.Errorf("node identity %q: %w", cfg.NodeIdentity, err)
	}
	n := &Node{Home: h, Log: log, Identity: id, contracts: contracts, cfg: cfg, channels: map[string]*ledger.Channel{}}
	for _, ch := range cfg.Channels {
		if err := n.start(ch); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

func (n *Node) start(ch ChannelConfig) error {
	if _, err := os.Stat(n.Home.Channel(ch.Name)); err != nil {
		return fmt.Errorf("channel %s: home missing: %w", ch.Name, err)
	}
	c, err := ledger.OpenChannel(ch.Name, n.Home.Chain(ch, n.cfg.Org+"-"+ch.Name), n.contracts(), n.Log)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.channels[ch.Name] = c
	n.mu.Unlock()
	n.Log.Info("channel started", "channel", ch.Name, "p2p", ch.P2PListen)
	return nil
}

// Config returns the node's configuration.
func (n *Node) Config() Config {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return *n.cfg
}

// SetSharePolicy changes the key-release policy and saves it.
func (n *Node) SetSharePolicy(p custodian.Policy) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	cfg := *n.cfg
	cfg.Share = p
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := n.Home.SaveConfig(&cfg); err != nil {
		return err
	}
	n.cfg = &cfg
	return nil
}

// Channel returns a hosted channel.
func (n *Node) Channel(name string) (*ledger.Channel, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.channels[name]
	if !ok {
		return nil, ErrUnknownChannel{Name: name}
	}
	return c, nil
}

// ErrUnknownChannel reports a channel this node does not host.
type ErrUnknownChannel struct{ Name string }

func (e ErrUnknownChannel) Error() string {
	return fmt.Sprintf("channel %q is not hosted by this node", e.Name)
}

// Channels lists the hosted channels by name.
func (n *Node) Channels() []*ledger.Channel {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*ledger.Channel, 0, len(n.channels))
	for _, c := range n.channels {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close stops every channel.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for name, c := range n.channels {
		errs = append(errs, c.Close())
		delete(n.channels, name)
	}
	return errors.Join(errs...)
}
