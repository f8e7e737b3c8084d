package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Config is config.toml's [p2p] section: the libp2p host that carries
// storage exchange, key transfer and the DCMB.
type Config struct {
	Listen     []string `toml:"listen"`      // multiaddrs, e.g. /ip4/127.0.0.1/tcp/4001
	Peers      []string `toml:"peers"`       // other nodes to stay connected to: /ip4/.../tcp/.../p2p/ID
	AllowPeers []string `toml:"allow_peers"` // peer IDs admitted without membership (a Kubo or Helia node for interop)
}

// Node is a node's libp2p side: the host on the node's bound libp2p key
// and the gate that admits its peers.
type Node struct {
	Host host.Host
	Gate *Gate

	log  *slog.Logger
	stop context.CancelFunc
}

// Start starts the host on key (see HostKey), listening on cfg.Listen.
// Its gate admits the peers of cfg.AllowPeers and nobody else until its
// members are set (Gate.Refresh); KeepConnected then dials cfg.Peers.
func Start(key any, cfg Config, log *slog.Logger) (*Node, error) {
	gate := NewGate(log)
	for _, id := range cfg.AllowPeers {
		pid, err := peer.Decode(id)
		if err != nil {
			return nil, fmt.Errorf("p2p.allow_peers: %q: %w", id, err)
		}
		gate.Allow(pid)
	}
	h, err := NewHost(key, cfg.Listen, gate)
	if err != nil {
		return nil, err
	}
	return &Node{Host: h, Gate: gate, log: log, stop: func() {}}, nil
}

// KeepConnected dials every peer of peers (/p2p/ multiaddrs) that is not
// connected, now and every 5 s, until Close. A peer named by the former
// ID of a node that has since bound a libp2p key is dialed under the new
// one (Gate.Current).
func (n *Node) KeepConnected(peers []string) {
	var infos []peer.AddrInfo
	for _, p := range peers {
		a, err := ma.NewMultiaddr(p)
		if err == nil {
			if info, err := peer.AddrInfoFromP2pAddr(a); err == nil {
				infos = append(infos, *info)
				continue
			}
		}
		n.log.Error("p2p.peers: not a /p2p/ multiaddr", "peer", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop()
	n.stop = cancel
	go n.keep(ctx, infos)
}

func (n *Node) keep(ctx context.Context, infos []peer.AddrInfo) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		for _, info := range infos {
			info.ID = n.Gate.Current(info.ID)
			if n.Host.Network().Connectedness(info.ID) != network.Connected {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				if err := n.Host.Connect(cctx, info); err != nil {
					n.log.Debug("p2p connect", "peer", info.ID, "err", err)
				}
				cancel()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops dialing and closes the host.
func (n *Node) Close() error {
	n.stop()
	return n.Host.Close()
}
