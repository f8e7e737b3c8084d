package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/daemon"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/node"
)

func initCmd(g *globals) *cobra.Command {
	var org string
	c := &cobra.Command{
		Use:   "init",
		Short: "Create a one-org consortium with the channel \"default\" in the home",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := node.Init(g.Home(), org)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"home": g.home, "org": cfg.Org, "api": cfg.API.Listen})
			}
			fmt.Printf("initialized %s: org %s, channel default, API %s\n", g.home, cfg.Org, cfg.API.Listen)
			return nil
		},
	}
	c.Flags().StringVar(&org, "org", "org1", "organization name")
	return c
}

func upCmd(g *globals) *cobra.Command {
	var org string
	c := &cobra.Command{
		Use:   "up",
		Short: "Run the node (initializes an empty home first)",
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
