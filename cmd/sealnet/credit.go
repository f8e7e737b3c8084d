package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/credit"
)

func creditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "credit", Short: "Consortium credits: balances, transfers, mints by vote of the orgs"}
	var org, member string
	balance := &cobra.Command{
		Use:   "balance [--org ORG] [--member ID]",
		Short: "Show an org's accounts (its own and its members'), or one member's",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if org == "" {
				id, err := g.signer()
				if err != nil {
					return err
				}
				org = id.Member.Org
			}
			var accounts []credit.Account
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) error {
				if member != "" {
					a, err := apiclient.Query[credit.Account](ctx, c, g.channel, credit.Name, "balance", credit.BalanceArgs{Org: org, Member: member})
					accounts = []credit.Account{a}
					return err
				}
				var err error
				accounts, err = apiclient.Query[[]credit.Account](ctx, c, g.channel, credit.Name, "accounts", credit.BalanceArgs{Org: org})
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(accounts)
			}
			for _, a := range accounts {
				fmt.Printf("%-32s %d\n", credit.AccountName(a.Org, a.Member), a.Balance)
			}
			return nil
		},
	}
	balance.Flags().StringVar(&org, "org", "", "org (default: the signing identity's)")
	balance.Flags().StringVar(&member, "member", "", "a member's account")

	var t credit.TransferArgs
	var to string
	transfer := &cobra.Command{
		Use:   "transfer --to ORG[/MEMBER] --amount N [--from MEMBER] [--memo TEXT]",
		Short: "Move credits from an account of your org (its own: admins; a member's: that member or an admin)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			t.ToOrg, t.ToMember, _ = strings.Cut(to, "/")
			r, err := g.call(credit.Name, "transfer", t)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			from, _ := g.signer()
			fmt.Printf("moved %d from %s to %s: tx %s height %d\n", t.Amount, credit.AccountName(from.Member.Org, t.From), to, r.TxID, r.Height)
			return nil
		},
	}
	transfer.Flags().StringVar(&to, "to", "", "receiving account: ORG or ORG/MEMBER")
	transfer.Flags().Uint64Var(&t.Amount, "amount", 0, "credits")
	transfer.Flags().StringVar(&t.From, "from", "", "a member account of your org (default: the org's account)")
	transfer.Flags().StringVar(&t.Memo, "memo", "", "a note, at most 140 bytes")
	transfer.MarkFlagRequired("to")
	transfer.MarkFlagRequired("amount")

	var m credit.VoteMintArgs
	mint := &cobra.Command{
		Use:   "mint-vote --id ID --org ORG --amount N [--memo TEXT]",
		Short: "Vote, as your org's admin, to mint credits to an org; made when more than half of the orgs voted the same",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			r, err := g.call(credit.Name, "vote_mint", m)
			if err != nil {
				return err
			}
			var res struct {
				Minted bool `json:"minted"`
				Votes  int  `json:"votes"`
				Orgs   int  `json:"orgs"`
			}
			if err := jsonInto(r.Result, &res); err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"tx_id": r.TxID, "height": r.Height, "id": m.ID, "minted": res.Minted, "votes": res.Votes, "orgs": res.Orgs})
			}
			state := "not yet minted"
			if res.Minted {
				state = "minted"
			}
			fmt.Printf("mint %s of %d to %s: %d of %d orgs voted, %s (tx %s height %d)\n", m.ID, m.Amount, m.Org, res.Votes, res.Orgs, state, r.TxID, r.Height)
			return nil
		},
	}
	mint.Flags().StringVar(&m.ID, "id", "", "the mint's ID: every vote names the same")
	mint.Flags().StringVar(&m.Org, "org", "", "the org receiving the credits")
	mint.Flags().Uint64Var(&m.Amount, "amount", 0, "credits")
	mint.Flags().StringVar(&m.Memo, "memo", "", "a note, at most 140 bytes")
	for _, f := range []string{"id", "org", "amount"} {
		mint.MarkFlagRequired(f)
	}
	c.AddCommand(balance, transfer, mint)
	return c
}
