package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
)

// Validity periods of what init and testnet issue.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	memberValidity = 2 * 365 * 24 * time.Hour
	clockSkew      = 5 * time.Minute // certificates start this early so peers' clocks may lag
)

// OrgMaterial is what creating an org's node home produced.
type OrgMaterial struct {
	CA      *identity.CA
	Members [][]byte                 // certificate DERs of the admin and the node
	P2PKeys []registry.GenesisP2PKey // the node's libp2p key, bound to its certificate
}

// CreateOrg makes a new org CA in the home and issues the admin and node
// identities from CSRs made locally, so each private key is generated where
// it stays, and makes the node's libp2p key with its binding.
func CreateOrg(h Home, org string, now time.Time) (*OrgMaterial, error) {
	ca, err := identity.NewCA(org, now.Add(-clockSkew), caValidity)
	if err != nil {
		return nil, err
	}
	om := &OrgMaterial{CA: ca}
	for _, m := range []struct {
		name string
		role identity.Role
	}{{"admin", identity.RoleAdmin}, {"node", identity.RoleNode}} {
		key, err := identity.NewKey()
		if err != nil {
			return nil, err
		}
		csr, err := identity.NewCSR(key, m.name, org)
		if err != nil {
			return nil, err
		}
		der, err := ca.Issue(csr, m.role, now.Add(-clockSkew), memberValidity)
		if err != nil {
			return nil, err
		}
		if err := identity.SaveIdentity(h.Keys(), m.name, key, der); err != nil {
			return nil, err
		}
		om.Members = append(om.Members, der)
		if m.role == identity.RoleNode {
			b, err := newP2PKey(h, identity.FingerprintOf(der))
			if err != nil {
				return nil, err
			}
			om.P2PKeys = append(om.P2PKeys, b)
		}
	}
	if err := ca.Save(h.CA()); err != nil {
		return nil, err
	}
	if err := identity.SaveRoot(h.Root(), ca.Cert); err != nil {
		return nil, err
	}
	return om, nil
}

// NewValidator creates the channel home's CometBFT validator and node keys
// and returns the validator's genesis entry and the node's P2P ID.
func NewValidator(chHome, name string) (types.GenesisValidator, string, error) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(chHome)
	for _, d := range []string{filepath.Dir(cfg.PrivValidatorKeyFile()), filepath.Dir(cfg.PrivValidatorStateFile())} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return types.GenesisValidator{}, "", err
		}
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pub, err := pv.GetPubKey()
	if err != nil {
		return types.GenesisValidator{}, "", err
	}
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return types.GenesisValidator{}, "", err
	}
	return types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: name}, string(nk.ID()), nil
}

// Genesis builds a channel genesis; peers are the CometBFT node IDs allowed
// to connect from the start.
func Genesis(channel string, now time.Time, vals []types.GenesisValidator, orgs []*OrgMaterial, peers []registry.Peer) (*types.GenesisDoc, error) {
	st := ledger.DefaultAppState(channel)
	st.Registry.Peers = peers
	for _, o := range orgs {
		st.Registry.Orgs = append(st.Registry.Orgs, registryOrg(o.CA))
		for _, m := range o.Members {
			st.Registry.Members = append(st.Registry.Members, string(identity.EncodeCertPEM(m)))
		}
		st.Registry.P2PKeys = append(st.Registry.P2PKeys, o.P2PKeys...)
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	app, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	g := &types.GenesisDoc{ChainID: channel, GenesisTime: now.UTC(), InitialHeight: 1,
		ConsensusParams: types.DefaultConsensusParams(), Validators: vals, AppState: app}
	if err := g.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return g, nil
}

// WriteGenesis saves g into a channel home.
func WriteGenesis(chHome string, g *types.GenesisDoc) error {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(chHome)
	if err := os.MkdirAll(filepath.Dir(cfg.GenesisFile()), 0o700); err != nil {
		return err
	}
	return g.SaveAs(cfg.GenesisFile())
}

// Init creates a one-org consortium in an empty home: org CA, admin and
// node identities, the node's libp2p key, and the channel "default" with
// this node as its only validator, listening on the default ports.
func Init(h Home, org string) (*Config, error) { return InitWith(h, org, Ports{}) }

// InitWith is Init listening on ports (zero fields: the defaults).
func InitWith(h Home, org string, ports Ports) (*Config, error) {
	if h.Exists() {
		return nil, fmt.Errorf("%s is already initialized", h)
	}
	now := time.Now()
	om, err := CreateOrg(h, org, now)
	if err != nil {
		return nil, fmt.Errorf("create org: %w", err)
	}
	cfg := DefaultConfig(org)
	if err := cfg.SetPorts(ports); err != nil {
		return nil, err
	}
	ch := cfg.Channels[0]
	val, id, err := NewValidator(h.Channel(ch.Name), org+"-node")
	if err != nil {
		return nil, fmt.Errorf("validator key: %w", err)
	}
	g, err := Genesis(ch.Name, now, []types.GenesisValidator{val}, []*OrgMaterial{om}, []registry.Peer{{NodeID: id, Org: org}})
	if err != nil {
		return nil, err
	}
	if err := WriteGenesis(h.Channel(ch.Name), g); err != nil {
		return nil, err
	}
	if err := h.SaveConfig(&cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func registryOrg(ca *identity.CA) registry.GenesisOrg {
	return registry.GenesisOrg{Name: ca.Org, RootPEM: string(identity.EncodeCertPEM(ca.Cert.Raw))}
}
