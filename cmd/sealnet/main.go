// Command sealnet is the sealnet node daemon and its command-line client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/txerr"
)

// globals are the flags every command takes.
type globals struct {
	home     string
	json     bool
	nodeAddr string
	channel  string
	identity string
	timeout  time.Duration
}

func main() {
	g := &globals{}
	root := &cobra.Command{
		Use:           "sealnet",
		Short:         "Confidential data exchange between the companies of an industrial consortium",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node home directory (env SEALNET_HOME)")
	pf.BoolVar(&g.json, "json", false, "machine-readable JSON output")
	pf.StringVar(&g.nodeAddr, "node", "", "node API, https://HOST:PORT (default: client.toml's node, else api.listen of the home's config)")
	pf.StringVar(&g.channel, "channel", "default", "channel to act on")
	pf.StringVar(&g.identity, "identity", "", "keystore identity to sign with (default: the home's config)")
	pf.DurationVar(&g.timeout, "timeout", 60*time.Second, "how long to wait for the node")
	root.AddCommand(initCmd(g), upCmd(g), statusCmd(g), caCmd(g), channelCmd(g), indexCmd(g),
		txCmd(g), blockCmd(g), eventsCmd(g), testnetCmd(g), benchCmd(g), dataCmd(g), demoCmd(g), dcmbCmd(g), auditCmd(g), conditionCmd(g),
		computeCmd(g), workerCmd(g), versionCmd(g), p2pCmd(g), creditCmd(g), paychCmd(g), moduleCmd(g))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sealnet:", err)
		code := 1
		if c := txerr.CodeOf(err); c != txerr.Internal && c != txerr.OK {
			code = 2
		}
		os.Exit(code)
	}
}

func defaultHome() string {
	if h := os.Getenv("SEALNET_HOME"); h != "" {
		return h
	}
	d, err := os.UserHomeDir()
	if err != nil {
		return ".sealnet"
	}
	return filepath.Join(d, ".sealnet")
}

func (g *globals) Home() node.Home { return node.Home(g.home) }

// client returns an API client for the home's node, authenticated as the
// signing identity: the node is --node, else client.toml's node (a member's
// own machine), else api.listen of the home's node.
func (g *globals) client() (*apiclient.Client, error) {
	id, err := g.signer()
	if err != nil {
		return nil, err
	}
	h := g.Home()
	root, err := identity.LoadRoot(h.Root())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no org root certificate at %s: import the certificate file your admin issued with 'sealnet ca import' (it carries the root)", h.Root())
	}
	if err != nil {
		return nil, err
	}
	addr := g.nodeAddr
	if addr == "" {
		cc, err := h.LoadClientConfig()
		if err != nil {
			return nil, err
		}
		addr = cc.Node
	}
	if addr == "" {
		cfg, err := h.LoadConfig()
		if err != nil {
			return nil, fmt.Errorf("no node to talk to: give --node https://HOST:PORT (%w)", err)
		}
		addr = cfg.API.Listen
	}
	return apiclient.New(addr, id, root)
}

// signer loads the identity the CLI authenticates and signs with:
// --identity, else client.toml's identity, else the home's config.
func (g *globals) signer() (*identity.Identity, error) {
	name := g.identity
	h := g.Home()
	if name == "" {
		cc, err := h.LoadClientConfig()
		if err != nil {
			return nil, err
		}
		name = cc.Identity
	}
	if name == "" {
		cfg, err := h.LoadConfig()
		if err != nil {
			return nil, fmt.Errorf("no identity to use: give --identity NAME (%w)", err)
		}
		name = cfg.Identity
	}
	id, err := identity.LoadIdentity(h.Keys(), name)
	if err != nil {
		return nil, fmt.Errorf("identity %q: %w", name, err)
	}
	return id, nil
}

// signerAndClient is what a command that signs and talks to the node needs.
func (g *globals) signerAndClient() (*identity.Identity, *apiclient.Client, error) {
	id, err := g.signer()
	if err != nil {
		return nil, nil, err
	}
	c, err := g.client()
	return id, c, err
}

func (g *globals) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.timeout)
}

// withClient calls fn with the node's API client and a context bounded by
// --timeout.
func (g *globals) withClient(fn func(ctx context.Context, c *apiclient.Client) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := g.ctx()
	defer cancel()
	return fn(ctx, c)
}

// printJSON writes v as one line of JSON.
func printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// report prints v as one line of JSON under --json, else calls text to
// print it for people.
func (g *globals) report(v any, text func()) error {
	if g.json {
		return printJSON(v)
	}
	text()
	return nil
}

// call signs and submits a contract call and reports the outcome; a
// transaction the block rejected is an error carrying its code.
func (g *globals) call(contractName, method string, args any) (*apiclient.TxResponse, error) {
	id, err := g.signer()
	if err != nil {
		return nil, err
	}
	var r *apiclient.TxResponse
	err = g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
		r, err = c.Call(ctx, id, g.channel, contractName, method, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.Code != 0 {
		if g.json {
			printJSON(r)
		}
		return r, fmt.Errorf("transaction %s rejected in block %d: %w", r.TxID, r.Height,
			&txerr.Error{Code: txerr.Code(r.Code), Msg: r.Error})
	}
	return r, nil
}
