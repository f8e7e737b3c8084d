package local

import (
	"context"
	"fmt"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Enroll makes a member key for name, has the org's CA issue its
// certificate with role and the org's admin enroll it on the channel. It
// returns the member's identity and the enrolment's transaction.
func (o *Org) Enroll(ctx context.Context, name string, role identity.Role) (*identity.Identity, *apiclient.TxResponse, error) {
	key, err := identity.NewKey()
	if err != nil {
		return nil, nil, err
	}
	csr, err := identity.NewCSR(key, name, o.Name)
	if err != nil {
		return nil, nil, err
	}
	ca, err := identity.LoadCA(o.Home.CA())
	if err != nil {
		return nil, nil, err
	}
	der, err := ca.Issue(csr, role, time.Now().Add(-time.Minute), 24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	if err := ca.Save(o.Home.CA()); err != nil {
		return nil, nil, err
	}
	r, err := o.Call(ctx, o.Admin, registry.Name, "enroll", registry.EnrollArgs{CertDER: der})
	if err != nil {
		return nil, nil, fmt.Errorf("enroll %s: %w", name, err)
	}
	m, err := identity.ParseMember(der)
	if err != nil {
		return nil, nil, err
	}
	return &identity.Identity{Key: key, Member: m, CertDER: der}, r, nil
}

// Call signs a contract call on the default channel as id, a member of
// the org, submits it through the org's node and waits for its block; a
// call the block rejected is an error with its code.
func (o *Org) Call(ctx context.Context, id *identity.Identity, contractName, method string, args any) (*apiclient.TxResponse, error) {
	r, err := o.API.Call(ctx, id, "default", contractName, method, args)
	if err != nil {
		return nil, err
	}
	if r.Code != 0 {
		return r, &txerr.Error{Code: txerr.Code(r.Code), Msg: fmt.Sprintf("%s.%s in block %d: %s", contractName, method, r.Height, r.Error)}
	}
	return r, nil
}
