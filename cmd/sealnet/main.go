// Command sealnet is the sealnet node daemon and its command-line client.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/api"
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
	pf.StringVar(&g.nodeAddr, "node", "", "node API address (default: api.listen of the home's config)")
	pf.StringVar(&g.channel, "channel", "default", "channel to act on")
	pf.StringVar(&g.identity, "identity", "", "keystore identity to sign with (default: the home's config)")
	pf.DurationVar(&g.timeout, "timeout", 60*time.Second, "how long to wait for the node")
	root.AddCommand(initCmd(g), upCmd(g), statusCmd(g), caCmd(g), channelCmd(g), indexCmd(g),
		txCmd(g), blockCmd(g), eventsCmd(g), testnetCmd(g), benchCmd(g), dataCmd(g), demoCmd(g), dcmbCmd(g), auditCmd(g), conditionCmd(g))
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

// client returns an API client for the home's node.
func (g *globals) client() (*api.Client, error) {
	if g.nodeAddr != "" {
		return api.NewClient(g.nodeAddr), nil
	}
	cfg, err := g.Home().LoadConfig()
	if err != nil {
		return nil, err
	}
	return api.NewClient(cfg.API.Listen), nil
}

// signer loads the identity transactions are signed with.
func (g *globals) signer() (*identity.Identity, error) {
	name := g.identity
	if name == "" {
		cfg, err := g.Home().LoadConfig()
		if err != nil {
			return nil, err
		}
		name = cfg.Identity
	}
	id, err := identity.LoadIdentity(g.Home().Keys(), name)
	if err != nil {
		return nil, fmt.Errorf("identity %q: %w", name, err)
	}
	return id, nil
}

// signerAndClient is what a command that signs and talks to the node needs.
func (g *globals) signerAndClient() (*identity.Identity, *api.Client, error) {
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
func (g *globals) withClient(fn func(ctx context.Context, c *api.Client) error) error {
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

// call signs and submits a contract call and reports the outcome; a
// transaction the block rejected is an error carrying its code.
func (g *globals) call(contractName, method string, args any) (*api.TxResponse, error) {
	id, err := g.signer()
	if err != nil {
		return nil, err
	}
	var r *api.TxResponse
	err = g.withClient(func(ctx context.Context, c *api.Client) (err error) {
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
