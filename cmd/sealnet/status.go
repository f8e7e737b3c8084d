package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
)

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node's org, identity, channels and libp2p peer ID and addresses",
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
				return printJSON(s)
			}
			fmt.Printf("org %s, node %s (%s), version %s\n", s.Org, s.NodeID, s.Fingerprint[:16], s.Version)
			for _, ch := range s.Channels {
				fmt.Printf("channel %-12s height %-8d app hash %.16s  peers %d  validators %d  p2p %s\n",
					ch.Name, ch.Height, ch.AppHash, ch.Peers, ch.Validators, ch.P2PListen)
			}
			if s.P2P != nil {
				fmt.Printf("libp2p peer ID %s (%s key)\n", s.P2P.PeerID, s.P2P.KeyType)
				for _, a := range s.P2P.Addrs {
					fmt.Printf("libp2p address %s\n", a)
				}
			}
			return nil
		},
	}
}
