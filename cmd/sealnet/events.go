package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
)

func eventsCmd(g *globals) *cobra.Command {
	var follow bool
	var from int64
	var to string
	c := &cobra.Command{
		Use:   "events [--follow] [--from HEIGHT] [--to ORG]",
		Short: "Print contract events (committed from a height, then live with --follow)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			if !follow {
				// replay what is committed, then stop at the live marker
				ctx2, cancel2 := g.ctx()
				defer cancel2()
				ctx = ctx2
			}
			start := from
			if !follow && start < 0 {
				start = 1
			}
			err = cl.Events(ctx, g.channel, start, func(m apiclient.EventMessage) bool {
				if to != "" && m.Event.To != "" && m.Event.To != to {
					return true
				}
				if g.json {
					printJSON(m)
				} else {
					var kv []string
					for _, a := range m.Event.Attrs {
						kv = append(kv, a.Key+"="+a.Value)
					}
					dest := ""
					if m.Event.To != "" {
						dest = " to " + m.Event.To
					}
					fmt.Printf("%s height %d %s.%s%s %s tx %s\n", m.Time, m.Height, m.Event.Contract, m.Event.Type, dest, strings.Join(kv, " "), m.TxID)
				}
				return true
			}, !follow)
			return err
		},
	}
	c.Flags().BoolVar(&follow, "follow", false, "keep streaming new events")
	c.Flags().Int64Var(&from, "from", -1, "replay from this height (default: all without --follow, only new with it)")
	c.Flags().StringVar(&to, "to", "", "only events addressed to this org (and broadcast ones)")
	return c
}
