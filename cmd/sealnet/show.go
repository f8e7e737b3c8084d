package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
)

func txCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "tx", Short: "Committed transactions"}
	c.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show a transaction's signed envelope, decoded content and result",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var r *apiclient.TxResponse
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				r, err = c.Tx(ctx, g.channel, args[0])
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			printTx(r)
			return nil
		},
	})
	return c
}

func printTx(r *apiclient.TxResponse) {
	fmt.Printf("tx        %s\nheight    %d (index %d)  time %s\nresult    %d %s %s\n", r.TxID, r.Height, r.Index, r.Time, r.Code, r.CodeName, r.Error)
	if e := r.Envelope; e != nil {
		fmt.Printf("envelope  %d bytes, signature %s (verified: %v)\n", len(e.Raw), e.Signature, e.Verified)
		fmt.Printf("payload   channel %s  %s.%s  creator %s (%s)\n          nonce %d  timestamp %s\n", e.Channel, e.Contract, e.Method, e.CreatorID, e.Creator, e.Nonce, e.Timestamp)
		fmt.Printf("args      %s\n", e.Args)
	}
	if len(r.Result) > 0 {
		fmt.Printf("output    %s\n", r.Result)
	}
	for _, ev := range r.Events {
		fmt.Printf("event     %s.%s %v\n", ev.Contract, ev.Type, ev.Attrs)
	}
}

func blockCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "block", Short: "Committed blocks"}
	c.AddCommand(&cobra.Command{
		Use:   "show HEIGHT",
		Short: "Show a block's header and transaction IDs",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			h, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("height %q: %w", args[0], err)
			}
			var b *apiclient.BlockResponse
			err = g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				b, err = c.Block(ctx, g.channel, h)
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(b)
			}
			fmt.Printf("block %d  %s\ntime %s  chain %s\nproposer %s\napp hash %s\ndata hash %s\nprevious %s  (%d commit signatures)\n%d txs\n",
				b.Height, b.Hash, b.Time, b.ChainID, b.Proposer, b.AppHash, b.DataHash, b.LastBlockID, b.LastCommitSigs, len(b.TxIDs))
			for _, id := range b.TxIDs {
				fmt.Println("  " + id)
			}
			return nil
		},
	})
	return c
}
