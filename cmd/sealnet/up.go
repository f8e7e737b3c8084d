package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/api"
	"github.com/sealnet/sealnet/daemon"
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

// attachFunc starts a service inside the running node; it runs until ctx
// ends and returns what its shutdown reported.
type attachFunc func(ctx context.Context, n *node.Node, srv *api.Server, log *slog.Logger) (wait func() error, err error)

// runNode runs the node of the home (initializing it if empty) and its
// API until SIGINT or SIGTERM, with an optional attached service.
func runNode(g *globals, org string, attach attachFunc) error {
	h := g.Home()
	if !h.Exists() {
		if _, err := node.Init(h, org); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sealnet: initialized %s (org %s, channel default)\n", h, org)
	}
	cfg, err := h.LoadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log)
	n, err := node.Open(h, daemon.Contracts, log)
	if err != nil {
		return err
	}
	defer n.Close()
	ln, err := api.Listen(cfg.API.Listen, n.Identity)
	if err != nil {
		return err
	}
	apiSrv := api.NewServer(n)
	srv := &http.Server{Handler: apiSrv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: tlsErrorLog(log)}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.API.OpsListen != "" {
		oln, err := net.Listen("tcp", cfg.API.OpsListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("api ops listen: %w", err)
		}
		ops := &http.Server{Handler: apiSrv.Ops(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ops.Serve(oln) }()
		defer ops.Close()
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	wait := func() error { return nil }
	if attach != nil {
		if wait, err = attach(ctx, n, apiSrv, log); err != nil {
			srv.Close()
			return err
		}
	}
	log.Info("node up", "org", cfg.Org, "api", "https://"+ln.Addr().String(), "ops", cfg.API.OpsListen, "home", string(h))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	stop()
	werr := wait()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return werr
}

func newLogger(c node.LogConfig) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// tlsErrorLog sends the HTTP server's own messages (failed TLS handshakes
// above all: a client without the org's trust, a port scanner) to the
// node's log at debug level instead of standard error.
func tlsErrorLog(log *slog.Logger) *stdlog.Logger {
	return slog.NewLogLogger(log.Handler(), slog.LevelDebug)
}
