package node

import (
	"fmt"
	"os"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/contract/registry"
)

// CreateChannel makes a new channel with this node as its only validator
// and this node's org as its only member, and starts hosting it. More orgs
// join through registry.vote_org; the genesis file it writes is what other
// nodes pass to JoinChannel to replicate it.
func (n *Node) CreateChannel(name, p2pListen string) (*types.GenesisDoc, error) {
	if err := n.checkNew(name); err != nil {
		return nil, err
	}
	ca, err := loadCA(n.Home)
	if err != nil {
		return nil, err
	}
	admin, err := loadCert(n.Home, n.Config().Identity)
	if err != nil {
		return nil, err
	}
	bindings, err := nodeP2PKeys(n.Home, n.Identity)
	if err != nil {
		return nil, err
	}
	om := &OrgMaterial{CA: ca, Members: [][]byte{admin, n.Identity.CertDER}, P2PKeys: bindings}
	val, id, err := NewValidator(n.Home.Channel(name), n.Config().Org+"-node")
	if err != nil {
		return nil, err
	}
	g, err := Genesis(name, time.Now(), []types.GenesisValidator{val}, []*OrgMaterial{om}, []registry.Peer{{NodeID: id, Org: n.Config().Org}})
	if err != nil {
		os.RemoveAll(n.Home.Channel(name))
		return nil, err
	}
	if err := WriteGenesis(n.Home.Channel(name), g); err != nil {
		return nil, err
	}
	return g, n.addChannel(DefaultChannelConfig(name, p2pListen))
}

// JoinChannel starts replicating an existing channel from its genesis,
// connecting to the given peers (id@host:port, comma-separated).
func (n *Node) JoinChannel(genesisJSON []byte, p2pListen, peers string) (*types.GenesisDoc, error) {
	g, err := types.GenesisDocFromJSON(genesisJSON)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if err := n.checkNew(g.ChainID); err != nil {
		return nil, err
	}
	if _, _, err := NewValidator(n.Home.Channel(g.ChainID), n.Config().Org+"-node"); err != nil {
		return nil, err
	}
	if err := WriteGenesis(n.Home.Channel(g.ChainID), g); err != nil {
		return nil, err
	}
	ch := DefaultChannelConfig(g.ChainID, p2pListen)
	ch.PersistentPeers = peers
	return g, n.addChannel(ch)
}

func (n *Node) checkNew(name string) error {
	if err := validateChannel(name); err != nil {
		return err
	}
	if _, err := n.Channel(name); err == nil {
		return fmt.Errorf("channel %s is already hosted", name)
	}
	if _, err := os.Stat(n.Home.Channel(name)); err == nil {
		return fmt.Errorf("channel %s already has a home at %s", name, n.Home.Channel(name))
	}
	return nil
}

func (n *Node) addChannel(ch ChannelConfig) error {
	n.mu.Lock()
	cfg := *n.cfg
	cfg.Channels = append(append([]ChannelConfig{}, cfg.Channels...), ch)
	if err := cfg.Validate(); err != nil {
		n.mu.Unlock()
		return err
	}
	n.mu.Unlock()
	if err := n.start(ch); err != nil {
		return err
	}
	c, err := n.Channel(ch.Name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.cfg = &cfg
	started := n.started
	err = n.Home.SaveConfig(&cfg)
	n.mu.Unlock()
	for _, fn := range started {
		fn(c)
	}
	return err
}
