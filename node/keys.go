package node

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/ledger"
)

func validateChannel(name string) error { return ledger.ValidateChannelName(name) }

func loadCA(h Home) (*identity.CA, error) {
	ca, err := identity.LoadCA(h.CA())
	if err != nil {
		return nil, fmt.Errorf("org CA (only an org admin's home has it): %w", err)
	}
	return ca, nil
}

func loadCert(h Home, name string) ([]byte, error) {
	id, err := identity.LoadIdentity(h.Keys(), name)
	if err != nil {
		return nil, fmt.Errorf("identity %q: %w", name, err)
	}
	return id.CertDER, nil
}

// newP2PKey makes the node's libp2p key in the home and binds it to the
// node certificate fp.
func newP2PKey(h Home, fp identity.Fingerprint) (registry.GenesisP2PKey, error) {
	key, err := identity.NewP2PKey()
	if err != nil {
		return registry.GenesisP2PKey{}, err
	}
	if err := identity.SaveP2PKey(h.P2PKey(), key); err != nil {
		return registry.GenesisP2PKey{}, err
	}
	return P2PBinding(key, fp), nil
}

// P2PBinding is the genesis form of the binding of key to the node
// certificate fp.
func P2PBinding(key ed25519.PrivateKey, fp identity.Fingerprint) registry.GenesisP2PKey {
	return registry.GenesisP2PKey{Fingerprint: fp.String(), Key: hex.EncodeToString(key.Public().(ed25519.PublicKey)),
		Sig: hex.EncodeToString(identity.SignP2PBinding(key, fp))}
}

// nodeP2PKeys returns the binding of the home's libp2p key to its node
// certificate, or none for a home made before libp2p keys.
func nodeP2PKeys(h Home, node *identity.Identity) ([]registry.GenesisP2PKey, error) {
	key, err := identity.LoadP2PKey(h.P2PKey())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []registry.GenesisP2PKey{P2PBinding(key, node.Member.Fingerprint)}, nil
}

// MakeP2PKey gives a home made before libp2p keys its libp2p key; the
// node binds it on its channels when it next starts (daemon). A home that
// has one keeps it.
func (h Home) MakeP2PKey() (ed25519.PrivateKey, error) {
	if _, err := os.Stat(h.P2PKey()); err == nil {
		return nil, fmt.Errorf("%s already holds a libp2p key (%s)", h, h.P2PKey())
	}
	if !h.Exists() {
		return nil, fmt.Errorf("%s is not a sealnet home (no %s)", h, ConfigFile)
	}
	key, err := identity.NewP2PKey()
	if err != nil {
		return nil, err
	}
	return key, identity.SaveP2PKey(h.P2PKey(), key)
}
