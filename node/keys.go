package node

import (
	"fmt"

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
