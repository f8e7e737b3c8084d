package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
)

func indexCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "index", Short: "The on-chain keyword index (paper 002's Subfile and Querfile)"}
	var a index.SubfileArgs
	add := &cobra.Command{
		Use:   "add --keyword K --cid CID --summary S [--type T --size N]",
		Short: "Add an index entry (Subfile)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			r, err := g.call(index.Name, "subfile", a)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("indexed %s: tx %s height %d\n", a.HashAddress, r.TxID, r.Height)
			return nil
		},
	}
	f := add.Flags()
	f.StringSliceVar(&a.Keywords, "keyword", nil, "keyword (repeat for several)")
	f.StringVar(&a.HashAddress, "cid", "", "content identifier of the (encrypted) data")
	f.StringVar(&a.Summary, "summary", "", "short description")
	f.StringVar(&a.Type, "type", "", "data type")
	f.Uint64Var(&a.Size, "size", 0, "data size in bytes")
	add.MarkFlagRequired("keyword")
	add.MarkFlagRequired("cid")

	var limit int
	find := &cobra.Command{
		Use:   "find KEYWORD",
		Short: "Find entries by keyword; the query is recorded on chain (Querfile)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			r, err := g.call(index.Name, "querfile", index.FindArgs{Keyword: args[0], Limit: limit})
			if err != nil {
				return err
			}
			var res index.FindResult
			if err := json.Unmarshal(r.Result, &res); err != nil {
				return fmt.Errorf("decode result: %w", err)
			}
			if g.json {
				return printJSON(map[string]any{"tx_id": r.TxID, "height": r.Height, "query_a": res.QueryA, "entries": res.Entries, "more": res.More})
			}
			fmt.Printf("query recorded: tx %s height %d QueryA %s\n", r.TxID, r.Height, res.QueryA)
			printEntries(res)
			return nil
		},
	}
	find.Flags().IntVar(&limit, "limit", 0, "most entries to return (default 100)")

	lookup := &cobra.Command{
		Use:   "lookup KEYWORD",
		Short: "Find entries by keyword without recording the query",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var res index.FindResult
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				res, err = apiclient.Query[index.FindResult](ctx, c, g.channel, index.Name, "lookup", index.FindArgs{Keyword: args[0], Limit: limit})
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(res)
			}
			printEntries(res)
			return nil
		},
	}
	lookup.Flags().IntVar(&limit, "limit", 0, "most entries to return (default 100)")
	c.AddCommand(add, find, lookup)
	return c
}

func printEntries(res index.FindResult) {
	if len(res.Entries) == 0 {
		fmt.Println("no entries")
		return
	}
	for _, e := range res.Entries {
		fmt.Printf("%s  holder %s (%s)  %s\n  summary %q  keywords %s  type %q  size %d\n  tx %s height %d\n",
			time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339), e.Holder, e.ID, e.HashAddress,
			e.Summary, strings.Join(e.Keywords, ","), e.Type, e.Size, e.TXNumber, e.Height)
	}
	if res.More {
		fmt.Println("(more entries: raise --limit)")
	}
}
