package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/node"
)

func testnetCmd(g *globals) *cobra.Command {
	o := node.TestnetOptions{}
	c := &cobra.Command{
		Use:   "testnet --orgs N --out DIR",
		Short: "Write the homes of an N-org network, one validator node per org on 127.0.0.x",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			nodes, err := node.Testnet(o)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(nodes)
			}
			for _, n := range nodes {
				fmt.Printf("%s  home %s  api %s  p2p %s\n", n.Org, n.Home, n.API, n.P2P)
			}
			fmt.Printf("start each with: sealnet up --home %s/orgN\n", o.Out)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&o.Orgs, "orgs", 4, "number of organizations")
	f.StringVar(&o.Out, "out", "", "directory for the homes")
	f.StringVar(&o.Channel, "channel-name", "default", "channel of the network")
	f.IntVar(&o.P2PPort, "p2p-port", 26656, "P2P port (each node has its own 127.0.0.x)")
	f.IntVar(&o.APIPort, "api-port", 7700, "API port")
	f.IntVar(&o.OpsPort, "ops-port", 0, "operations port: /healthz and /metrics (default: the API port + 1)")
	f.IntVar(&o.LibP2P, "libp2p-port", 4001, "libp2p port (storage exchange, key transfer)")
	f.IntVar(&o.HostBase, "host-base", 1, "node i listens on 127.0.0.(host-base+i)")
	f.DurationVar(&o.TimeoutCommit, "timeout-commit", node.TestnetTimeoutCommit, "pause after each commit (whole milliseconds)")
	c.MarkFlagRequired("out")
	return c
}
