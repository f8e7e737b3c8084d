package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/durable"
)

func channelCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "channel", Short: "Create, join and list channels (each is its own chain)"}
	var p2p, out string
	create := &cobra.Command{
		Use:   "create NAME --p2p tcp://HOST:PORT",
		Short: "Create a channel with this node as validator and this org as member",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return channelReq(g, apiclient.ChannelRequest{Name: args[0], P2PListen: p2p}, out)
		},
	}
	create.Flags().StringVar(&p2p, "p2p", "", "P2P listen address of the new channel (its own port)")
	create.Flags().StringVar(&out, "genesis-out", "", "write the channel's genesis here, for nodes that join")
	create.MarkFlagRequired("p2p")

	var genesis, peers, jp2p string
	join := &cobra.Command{
		Use:   "join --genesis FILE --p2p tcp://HOST:PORT --peers ID@HOST:PORT,...",
		Short: "Replicate an existing channel from its genesis",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			gb, err := os.ReadFile(genesis)
			if err != nil {
				return err
			}
			return channelReq(g, apiclient.ChannelRequest{Genesis: gb, P2PListen: jp2p, Peers: peers}, "")
		},
	}
	join.Flags().StringVar(&genesis, "genesis", "", "genesis file of the channel")
	join.Flags().StringVar(&jp2p, "p2p", "", "P2P listen address for this channel")
	join.Flags().StringVar(&peers, "peers", "", "persistent peers, id@host:port comma-separated")
	join.MarkFlagRequired("genesis")
	join.MarkFlagRequired("p2p")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the channels this node hosts",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var s *apiclient.Status
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				s, err = c.Status(ctx)
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(s.Channels)
			}
			for _, ch := range s.Channels {
				fmt.Printf("%-16s height %-8d validators %d peers %d p2p %s node %s\n", ch.Name, ch.Height, ch.Validators, ch.Peers, ch.P2PListen, ch.NodeID)
			}
			return nil
		},
	}
	allow := &cobra.Command{
		Use:   "allow NODE_ID",
		Short: "Let a node of your org connect to the channel's network (registry.allow_peer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			r, err := g.call(registry.Name, "allow_peer", registry.AllowPeerArgs{NodeID: args[0]})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("node %s may join channel %s: tx %s height %d\n", args[0], g.channel, r.TxID, r.Height)
			return nil
		},
	}
	c.AddCommand(create, join, list, allow)
	return c
}

func channelReq(g *globals, req apiclient.ChannelRequest, genesisOut string) error {
	var r *apiclient.ChannelResponse
	err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
		r, err = c.Channel(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	if genesisOut != "" {
		if err := durable.WriteFile(genesisOut, r.Genesis, 0o644); err != nil {
			return err
		}
	}
	if g.json {
		return printJSON(map[string]any{"name": r.Name, "p2p_node_id": r.NodeID})
	}
	fmt.Printf("channel %s is hosted by node %s\n", r.Name, r.NodeID)
	if len(req.Genesis) > 0 {
		fmt.Printf("its members accept this node once an admin runs: sealnet channel allow %s --channel %s\n", r.NodeID, r.Name)
	}
	return nil
}
