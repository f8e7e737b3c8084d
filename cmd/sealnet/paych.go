package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
)

func jsonInto(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	return nil
}

func paychCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "paych", Short: "Payment channels: a deposit paid off chain with vouchers, settled on chain"}
	c.AddCommand(paychOpenCmd(g), paychTopUpCmd(g), paychListCmd(g), paychShowCmd(g), paychVoucherCmd(g),
		paychRedeemCmd(g), paychSettleCmd(g), paychCollectCmd(g))
	return c
}

// channelCall submits a paych method and prints the channel it returns.
func (g *globals) channelCall(method string, args any, what string) error {
	r, err := g.call(paych.Name, method, args)
	if err != nil {
		return err
	}
	var ch paych.Channel
	if err := jsonInto(r.Result, &ch); err != nil {
		return err
	}
	if g.json {
		return printJSON(map[string]any{"tx_id": r.TxID, "height": r.Height, "channel": ch})
	}
	fmt.Printf("%s (tx %s height %d)\n", what, r.TxID, r.Height)
	printChannel(&ch)
	return nil
}

func printChannel(ch *paych.Channel) {
	fmt.Printf("channel   %s  %s\n", ch.ID, ch.State)
	fmt.Printf("payer     %s of %s, from %s\n", ch.Payer, ch.PayerOrg, accountOf(ch.PayerOrg, ch.From))
	fmt.Printf("payee     %s\n", accountOf(ch.PayeeOrg, ch.PayeeMember))
	fmt.Printf("deposit   %d  redeemed %d  opened at %d  expires after block %d  settle delay %d blocks\n",
		ch.Deposit, ch.Redeemed, ch.Opened, ch.Expiry, ch.SettleDelay)
	for _, l := range ch.Lanes {
		fmt.Printf("lane %-4d nonce %d  amount %d\n", l.ID, l.Nonce, l.Amount)
	}
	if ch.SettleAt != 0 {
		fmt.Printf("settling  by %s, redeeming ends at block %d\n", ch.SettledBy, ch.SettleAt)
	}
	if ch.State == paych.StateClosed {
		fmt.Printf("closed    at block %d: paid %d, refunded %d\n", ch.Closed, ch.Paid, ch.Refunded)
	}
	fmt.Printf("txs       %d\n", ch.Txs)
}

func accountOf(org, member string) string {
	if member == "" {
		return org
	}
	return org + "/" + member
}

func paychOpenCmd(g *globals) *cobra.Command {
	var a paych.OpenArgs
	var to string
	var blocks int64
	c := &cobra.Command{
		Use:   "open --to ORG[/MEMBER] --deposit N [--from MEMBER] [--blocks B | --expiry H] [--settle-delay D]",
		Short: "Open a channel you pay: your key signs its vouchers; the deposit is locked until it is collected",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			a.ToOrg, a.ToMember, _ = strings.Cut(to, "/")
			if a.Expiry == 0 {
				h, err := g.height()
				if err != nil {
					return err
				}
				a.Expiry = h + blocks
			}
			return g.channelCall("open", a, "opened")
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "the payee's account: ORG or ORG/MEMBER")
	f.Uint64Var(&a.Deposit, "deposit", 0, "credits locked for the payee")
	f.StringVar(&a.From, "from", "", "a member account of your org to fund it (default: the org's account, which only admins spend)")
	f.Int64Var(&blocks, "blocks", 100_000, "blocks from now until the channel expires and settles by itself")
	f.Int64Var(&a.Expiry, "expiry", 0, "the block at whose end it expires (instead of --blocks)")
	f.Int64Var(&a.SettleDelay, "settle-delay", 1_000, "blocks the payee has to redeem after the payer settles (at least 10)")
	c.MarkFlagRequired("to")
	c.MarkFlagRequired("deposit")
	return c
}

// height returns the channel's committed height as the node reports it.
func (g *globals) height() (int64, error) {
	var h int64
	err := g.withClient(func(ctx context.Context, c *apiclient.Client) error {
		s, err := c.Status(ctx)
		if err != nil {
			return err
		}
		for _, ch := range s.Channels {
			if ch.Name == g.channel {
				h = ch.Height
				return nil
			}
		}
		return fmt.Errorf("the node does not host channel %s", g.channel)
	})
	return h, err
}

func paychTopUpCmd(g *globals) *cobra.Command {
	var a paych.TopUpArgs
	c := &cobra.Command{
		Use:   "topup CHANNEL --amount N",
		Short: "Add to the deposit of a channel you pay while it is open",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			a.Channel = args[0]
			return g.channelCall("top_up", a, "topped up")
		},
	}
	c.Flags().Uint64Var(&a.Amount, "amount", 0, "credits to add")
	c.MarkFlagRequired("amount")
	return c
}

func paychListCmd(g *globals) *cobra.Command {
	var a paych.ListArgs
	c := &cobra.Command{
		Use:   "list [--org ORG] [--state open|settling|closed]",
		Short: "List an org's channels, paying and paid",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if a.Org == "" {
				id, err := g.signer()
				if err != nil {
					return err
				}
				a.Org = id.Member.Org
			}
			var all []paych.Channel
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) error {
				for {
					l, err := apiclient.Query[paych.List](ctx, c, g.channel, paych.Name, "channels", a)
					if err != nil {
						return err
					}
					all = append(all, l.Channels...)
					if !l.More || len(l.Channels) == 0 {
						return nil
					}
					a.After = l.Channels[len(l.Channels)-1].ID
				}
			})
			if err != nil {
				return err
			}
			if g.json {
				if all == nil {
					all = []paych.Channel{}
				}
				return printJSON(all)
			}
			if len(all) == 0 {
				fmt.Println("no channels")
				return nil
			}
			fmt.Printf("%-64s  %-9s %-20s %-20s %10s %10s %8s\n", "channel", "state", "from", "to", "deposit", "redeemed", "expiry")
			for _, ch := range all {
				fmt.Printf("%-64s  %-9s %-20s %-20s %10d %10d %8d\n", ch.ID, ch.State, accountOf(ch.PayerOrg, ch.From),
					accountOf(ch.PayeeOrg, ch.PayeeMember), ch.Deposit, ch.Redeemed, ch.Expiry)
			}
			return nil
		},
	}
	c.Flags().StringVar(&a.Org, "org", "", "org (default: the signing identity's)")
	c.Flags().StringVar(&a.State, "state", "", "only channels in this state")
	return c
}

func paychShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show CHANNEL",
		Short: "Show a channel's record and where its lanes stand at the payee's node",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var ch paych.Channel
			var lanes *apiclient.LanesResponse
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				if ch, err = apiclient.Query[paych.Channel](ctx, c, g.channel, paych.Name, "channel", paych.ChannelArgs{Channel: args[0]}); err != nil {
					return err
				}
				if ch.State != paych.StateClosed {
					lanes, _ = c.Lanes(ctx, g.channel, args[0], 0) // the payee's node may be out of reach
				}
				return nil
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"channel": ch, "held": lanes})
			}
			printChannel(&ch)
			if lanes != nil {
				fmt.Printf("the payee's node holds vouchers for %d in total\n", lanes.Total)
				for _, l := range lanes.Lanes {
					fmt.Printf("  lane %-4d nonce %d  amount %d\n", l.ID, l.Nonce, l.Amount)
				}
			}
			return nil
		},
	}
}

func paychVoucherCmd(g *globals) *cobra.Command {
	var v voucher.Voucher
	var add uint64
	var job string
	var send bool
	c := &cobra.Command{
		Use:   "voucher CHANNEL (--add N | --amount A --nonce N) [--lane L] [--job JOB] [--send]",
		Short: "Sign a voucher of a channel you pay; with --send your node delivers it to the payee's node and reports once it is stored",
		Long: `Sign a voucher of a channel you pay with your key. Amounts are cumulative per
lane: --amount is the lane's new total and --nonce must be above the lane's;
with --send, --add N asks the payee's node where the lane stands and pays N
more. --job makes the voucher redeemable only once that compute job is
accepted. Without --send the voucher is printed in hex for the payee.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := g.signer()
			if err != nil {
				return err
			}
			if v.Channel, err = hex.DecodeString(args[0]); err != nil || len(v.Channel) != 32 {
				return fmt.Errorf("channel %q: want 64 hex digits", args[0])
			}
			if job != "" {
				j, err := hex.DecodeString(job)
				if err != nil || len(j) != 32 {
					return fmt.Errorf("job %q: want 64 hex digits", job)
				}
				v.Cond = &voucher.Condition{Job: j, State: voucher.StateAccepted}
			}
			v.Chain, v.Contract = g.channel, paych.Name
			return g.withClient(func(ctx context.Context, c *apiclient.Client) error {
				if add > 0 {
					if !send {
						return fmt.Errorf("--add needs --send (the payee's node says where the lane stands); give --amount and --nonce otherwise")
					}
					lanes, err := c.Lanes(ctx, g.channel, args[0], 0)
					if err != nil {
						return err
					}
					v.Nonce, v.Amount = 1, add
					for _, l := range lanes.Lanes {
						if l.ID == v.Lane {
							v.Nonce, v.Amount = l.Nonce+1, l.Amount+add
						}
					}
				}
				raw, err := voucher.Sign(v, id.Key)
				if err != nil {
					return err
				}
				if !send {
					if g.json {
						return printJSON(map[string]any{"voucher": hex.EncodeToString(raw), "lane": v.Lane, "nonce": v.Nonce, "amount": v.Amount})
					}
					fmt.Println(hex.EncodeToString(raw))
					return nil
				}
				r, err := c.SendVoucher(ctx, g.channel, raw)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(r)
				}
				fmt.Printf("the payee's node stored lane %d nonce %d: %d in total on the lane\n", r.Lane, r.Nonce, r.Amount)
				return nil
			})
		},
	}
	f := c.Flags()
	f.Uint64Var(&add, "add", 0, "pay this much more on the lane (with --send)")
	f.Uint64Var(&v.Amount, "amount", 0, "the lane's new cumulative amount")
	f.Uint64Var(&v.Nonce, "nonce", 0, "the voucher's nonce, above the lane's last")
	f.Uint64Var(&v.Lane, "lane", 0, "lane")
	f.StringVar(&job, "job", "", "a compute job (64 hex digits) the voucher waits for")
	f.BoolVar(&send, "send", false, "have your node deliver it to the payee's node")
	return c
}

// voucherArgs reads a channel and an optional hex voucher.
func voucherArgs(channel, hexVoucher string) (paych.VoucherArgs, error) {
	a := paych.VoucherArgs{Channel: channel}
	if hexVoucher != "" {
		raw, err := hex.DecodeString(hexVoucher)
		if err != nil {
			return a, fmt.Errorf("voucher: %w", err)
		}
		a.Voucher = raw
	}
	return a, nil
}

func paychRedeemCmd(g *globals) *cobra.Command {
	var raw string
	c := &cobra.Command{
		Use:   "redeem CHANNEL --voucher HEX",
		Short: "Record a voucher of a channel that pays you; nothing moves until the collect",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			a, err := voucherArgs(args[0], raw)
			if err != nil {
				return err
			}
			return g.channelCall("redeem", a, "redeemed")
		},
	}
	c.Flags().StringVar(&raw, "voucher", "", "the voucher, in hex")
	c.MarkFlagRequired("voucher")
	return c
}

func paychSettleCmd(g *globals) *cobra.Command {
	var raw string
	c := &cobra.Command{
		Use:   "settle CHANNEL [--voucher HEX]",
		Short: "Start a channel's end: the payer's settle leaves the payee its settle delay; the payee's (with its last voucher) ends it at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			a, err := voucherArgs(args[0], raw)
			if err != nil {
				return err
			}
			return g.channelCall("settle", a, "settling")
		},
	}
	c.Flags().StringVar(&raw, "voucher", "", "the payee's last voucher, in hex")
	return c
}

func paychCollectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "collect CHANNEL",
		Short: "Pay out a settled channel: the payee what it redeemed, the payer the rest",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.channelCall("collect", paych.ChannelArgs{Channel: args[0]}, "collected")
		},
	}
}
