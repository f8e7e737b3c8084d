package node

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
)

// TestnetTimeoutCommit is sealnet testnet's pause after each commit: it
// keeps blocks full when validators in processes of their own gossip
// under load.
const TestnetTimeoutCommit = 100 * time.Millisecond

// TestnetOptions shape a local N-org network.
type TestnetOptions struct {
	Orgs    int
	Out     string
	Channel string
	P2PPort int // every node listens on its own 127.0.0.x with this port
	APIPort int
	OpsPort int // health and metrics (0: APIPort+1)
	LibP2P  int // libp2p port (storage and key transfer)
	// TimeoutCommit is the pause after each commit (sealnet testnet:
	// TestnetTimeoutCommit)
	TimeoutCommit time.Duration
	HostBase      int // node i listens on 127.0.0.(HostBase+i)
}

// TestnetNode describes one generated node.
type TestnetNode struct {
	Org    string
	Home   Home
	Host   string
	API    string
	P2P    string
	LibP2P string // multiaddr with the node's peer ID
}

// Testnet writes the homes of an N-org network: one validator node per org,
// all in one channel, peered with each other on loopback addresses.
func Testnet(o TestnetOptions) ([]TestnetNode, error) {
	if o.Orgs < 1 || o.Orgs > 64 {
		return nil, fmt.Errorf("--orgs %d: want 1-64", o.Orgs)
	}
	if o.TimeoutCommit < 0 {
		return nil, fmt.Errorf("--timeout-commit %s: must not be negative", o.TimeoutCommit)
	}
	now := time.Now()
	var (
		nodes []TestnetNode
		orgs  []*OrgMaterial
		vals  []types.GenesisValidator
		peers []string
		ids   []registry.Peer
	)
	for i := 1; i <= o.Orgs; i++ {
		org := fmt.Sprintf("org%d", i)
		h := Home(fmt.Sprintf("%s/%s", strings.TrimRight(o.Out, "/"), org))
		if h.Exists() {
			return nil, fmt.Errorf("%s already holds a node home", h)
		}
		om, err := CreateOrg(h, org, now)
		if err != nil {
			return nil, err
		}
		host := fmt.Sprintf("127.0.0.%d", o.HostBase+i)
		val, id, err := NewValidator(h.Channel(o.Channel), org+"-node")
		if err != nil {
			return nil, err
		}
		orgs = append(orgs, om)
		ids = append(ids, registry.Peer{NodeID: id, Org: org})
		vals = append(vals, val)
		p2pKey, err := identity.LoadP2PKey(h.P2PKey())
		if err != nil {
			return nil, err
		}
		pid, err := p2p.PeerOfKey(p2pKey.Public().(ed25519.PublicKey))
		if err != nil {
			return nil, err
		}
		n := TestnetNode{Org: org, Home: h, Host: host, API: fmt.Sprintf("%s:%d", host, o.APIPort),
			P2P: fmt.Sprintf("%s:%d", host, o.P2PPort), LibP2P: fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", host, o.LibP2P, pid)}
		peers = append(peers, id+"@"+n.P2P)
		nodes = append(nodes, n)
	}
	g, err := Genesis(o.Channel, now, vals, orgs, ids)
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		if err := WriteGenesis(n.Home.Channel(o.Channel), g); err != nil {
			return nil, err
		}
		cfg := DefaultConfig(n.Org)
		cfg.API.Listen = n.API
		ops := o.OpsPort
		if ops == 0 {
			ops = o.APIPort + 1
		}
		cfg.API.OpsListen = fmt.Sprintf("%s:%d", n.Host, ops)
		cfg.P2P.Listen = []string{fmt.Sprintf("/ip4/%s/tcp/%d", n.Host, o.LibP2P)}
		for j, m := range nodes {
			if j != i {
				cfg.P2P.Peers = append(cfg.P2P.Peers, m.LibP2P)
			}
		}
		ch := DefaultChannelConfig(o.Channel, "tcp://"+n.P2P)
		var others []string
		for j, p := range peers {
			if j != i {
				others = append(others, p)
			}
		}
		ch.PersistentPeers = strings.Join(others, ",")
		ch.TimeoutCommitMS = int(o.TimeoutCommit / time.Millisecond)
		cfg.Channels = []ChannelConfig{ch}
		if err := n.Home.SaveConfig(&cfg); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}
