// Credits and payment channels on a local consortium: what a demo or a
// benchmark needs before one node can pay another per result.

package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/sealnet/sealnet/contract/credit"
	"github.com/sealnet/sealnet/contract/paych"
)

// call has o's admin call a contract on the channel and fails on a
// refusal.
func (o *Org) call(ctx context.Context, contractName, method string, args any) error {
	r, err := o.API.Call(ctx, o.Admin, "default", contractName, method, args)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("%s.%s by %s's admin: %s", contractName, method, o.Name, r.Error)
	}
	return nil
}

// Mint creates amount credits on org's account by the votes of the orgs'
// admins (mint id id), one org after the other until more than half voted.
func (c *Consortium) Mint(ctx context.Context, id, org string, amount uint64) error {
	for i, o := range c.Orgs {
		if 2*i > len(c.Orgs) {
			return nil // a majority voted: the credits exist
		}
		if err := o.call(ctx, credit.Name, "vote_mint", credit.VoteMintArgs{ID: id, Org: org, Amount: amount}); err != nil {
			return err
		}
	}
	return nil
}

// FundNode has o's admin open the account of o's node (if it has none)
// and move amount credits into it from the org's account: a node pays
// from its own account the channels it opens, whose vouchers its key
// signs.
func (o *Org) FundNode(ctx context.Context, amount uint64) error {
	node := o.Node.Identity.Member.ID
	if err := o.call(ctx, credit.Name, "open_account", credit.OpenAccountArgs{Member: node}); err != nil && !strings.Contains(err.Error(), "is open") {
		return err
	}
	return o.call(ctx, credit.Name, "transfer", credit.TransferArgs{ToOrg: o.Name, ToMember: node, Amount: amount})
}

// OpenChannel has o's node open a payment channel to org to's account
// with deposit credits from the node's account, expiring blocks blocks
// from now, with a settle delay of delay blocks.
func (o *Org) OpenChannel(ctx context.Context, to string, deposit uint64, blocks, delay int64) (*paych.Channel, error) {
	if o.Daemon == nil || o.Daemon.Payments == nil {
		return nil, fmt.Errorf("%s's node runs no payment service", o.Name)
	}
	ch, err := o.Node.Channel("default")
	if err != nil {
		return nil, err
	}
	h, _ := ch.App.Height()
	return o.Daemon.Payments.Open(ctx, "default", paych.OpenArgs{ToOrg: to, Deposit: deposit, Expiry: h + blocks, SettleDelay: delay})
}
