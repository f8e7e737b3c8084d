package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/daemon"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/node"
)

func initCmd(g *globals) *cobra.Command {
	var org string
	var pf portFlags
	c := &cobra.Command{
		Use:   "init",
		Short: "Create a one-org consortium with the channel \"default\" in the home",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := node.InitWith(g.Home(), org, pf.ports())
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"home": g.home, "org": cfg.Org, "api": cfg.API.Listen, "ops": cfg.API.OpsListen,
					"libp2p": cfg.P2P.Listen, "consensus": cfg.Channels[0].P2PListen})
			}
			fmt.Printf("initialized %s: org %s, channel default\n  API %s, ops %s, libp2p %s, consensus %s\n", g.home, cfg.Org,
				cfg.API.Listen, cfg.API.OpsListen, strings.Join(cfg.P2P.Listen, " "), cfg.Channels[0].P2PListen)
			return nil
		},
	}
	c.Flags().StringVar(&org, "org", "org1", "organization name")
	pf.add(c)
	return c
}

// portFlags choose the ports of a new home: a base port numbers all four,
// a port of its own overrides it.
type portFlags struct {
	base int
	p    node.Ports
}

func (f *portFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.IntVar(&f.base, "base-port", 0, "number the ports from this one: API, ops, libp2p, consensus = base .. base+3 (default 7700, 7701, 4001, 26656)")
	fl.IntVar(&f.p.API, "api-port", 0, "API port (api.listen)")
	fl.IntVar(&f.p.Ops, "ops-port", 0, "health and metrics port (api.ops_listen)")
	fl.IntVar(&f.p.LibP2P, "p2p-port", 0, "libp2p port (p2p.listen: storage exchange, key transfer, DCMB)")
	fl.IntVar(&f.p.Consensus, "consensus-port", 0, "CometBFT port of the default channel (p2p_listen)")
}

func (f *portFlags) ports() node.Ports {
	p := node.Ports{}
	if f.base != 0 {
		p = node.BasePorts(f.base)
	}
	for _, o := range []struct{ dst, src *int }{{&p.API, &f.p.API}, {&p.Ops, &f.p.Ops}, {&p.LibP2P, &f.p.LibP2P}, {&p.Consensus, &f.p.Consensus}} {
		if *o.src != 0 {
			*o.dst = *o.src
		}
	}
	return p
}

func upCmd(g *globals) *cobra.Command {
	var org string
	c := &cobra.Command{
		Use:   "up",
		Short: "Run the node (initializes an empty home first, on the default ports)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return runNode(g, org, nil)
		},
	}
	c.Flags().StringVar(&org, "org", "org1", "organization name if the home is initialized now")
	return c
}

// runNode runs the node of the home (initializing it if empty), with the
// DCMB of dcmbCfg if not nil, until SIGINT or SIGTERM.
func runNode(g *globals, org string, dcmbCfg *dcmb.Config) error {
	h := g.Home()
	if !h.Exists() {
		if _, err := node.Init(h, org); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sealnet: initialized %s (org %s, channel default)\n", h, org)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	d, err := daemon.Start(h, daemon.Options{DCMB: dcmbCfg})
	if err != nil {
		return err
	}
	select {
	case s := <-sig:
		d.Log.Info("shutting down", "signal", s.String())
	case err := <-d.Failed():
		if errors.Is(err, http.ErrServerClosed) {
			break
		}
		d.Log.Error("shutting down: the node cannot go on", "err", err)
		// a node whose consensus failed may not stop cleanly (a full disk
		// fails the last writes too): do not hang a supervisor's restart
		time.AfterFunc(20*time.Second, func() {
			d.Log.Error("shutdown did not finish in 20 s; exiting", "err", err)
			os.Exit(3)
		})
		return errors.Join(err, d.Close())
	}
	return d.Close()
}
