package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/p2p"
)

func p2pCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "p2p", Short: "The node's libp2p identity (storage exchange, key transfer, DCMB)"}
	c.AddCommand(&cobra.Command{
		Use:   "key",
		Short: "Give a home made before libp2p keys an Ed25519 libp2p key; the node binds it on its channels at its next start",
		Long: `Homes made by this version have an Ed25519 libp2p key, bound to the node
certificate in the genesis. An older home's node runs on its certificate's
P-256 key, which Go peers and Kubo accept and JavaScript libp2p (Helia)
does not. This command makes the key; at its next start the node runs on it
and submits registry.bind_p2p_key on each channel. Run it once every node of
those channels runs a version that knows bind_p2p_key.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			h := g.Home()
			key, err := h.MakeP2PKey()
			if err != nil {
				return err
			}
			id, err := p2p.PeerOfKey(key.Public().(ed25519.PublicKey))
			if err != nil {
				return err
			}
			running := false
			if l, err := h.Lock(); errors.Is(err, node.ErrHomeInUse) {
				running = true
			} else if err == nil {
				l.Release()
			}
			if g.json {
				return printJSON(map[string]any{"peer_id": id.String(), "key": h.P2PKey(), "node_running": running})
			}
			fmt.Printf("libp2p key %s: peer ID %s\n", h.P2PKey(), id)
			if running {
				fmt.Println("the node is running on its old key: restart it to bind and use the new one")
			} else {
				fmt.Println("the node binds and uses it at its next start")
			}
			return nil
		},
	})
	return c
}
