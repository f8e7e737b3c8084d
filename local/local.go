// Package local runs a whole consortium in one process: one node per org,
// each assembled by package daemon as `sealnet up` would and serving its
// API on loopback, joined in one channel over real CometBFT consensus and
// libp2p. The demos and the benchmarks run on it.
package local

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/sealnet/sealnet/api"
	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/daemon"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
)

// Org is one company's node and its admin.
type Org struct {
	Name   string
	Home   node.Home
	Daemon *daemon.Daemon // the running node; nil while stopped
	Node   *node.Node     // Daemon.Node
	Server *api.Server    // Daemon.Server
	API    *apiclient.Client
	Admin  *identity.Identity

	apiAddr string
	log     *slog.Logger
}

// Consortium is the running network.
type Consortium struct {
	Orgs []*Org
}

// FreePorts returns n distinct ports of host that were free a moment
// ago: all n are held open until every one is chosen, so the kernel
// cannot hand out one twice.
func FreePorts(host string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Start creates homes for n orgs under dir and runs them. log may be nil.
func Start(dir string, n int, log *slog.Logger) (*Consortium, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hb := 100 + rand.IntN(100)
	host := fmt.Sprintf("127.0.0.%d", hb+1)
	ports, err := FreePorts(host, 4)
	if err != nil {
		return nil, err
	}
	homes, err := node.Testnet(node.TestnetOptions{Orgs: n, Out: dir, Channel: "default", HostBase: hb,
		P2PPort: ports[0], APIPort: ports[1], LibP2P: ports[2], OpsPort: ports[3], TimeoutCommit: 10 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	c := &Consortium{}
	for _, tn := range homes {
		o := &Org{Name: tn.Org, Home: tn.Home, apiAddr: tn.API, log: log.With("org", tn.Org)}
		c.Orgs = append(c.Orgs, o)
		if err := o.Start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, c.waitConnected(30 * time.Second)
}

// Start runs the org's node; API is a client authenticated as the org's
// admin.
func (o *Org) Start() error {
	admin, err := identity.LoadIdentity(o.Home.Keys(), "admin")
	if err != nil {
		return err
	}
	d, err := daemon.Start(o.Home, daemon.Options{Log: o.log})
	if err != nil {
		return err
	}
	o.Daemon, o.Node, o.Server, o.Admin, o.apiAddr = d, d.Node, d.Server, admin, d.APIAddr()
	if o.API, err = o.Client(admin); err != nil {
		o.Stop()
		return err
	}
	return nil
}

// Client returns an API client of the org's node that authenticates as id,
// a member of the org.
func (o *Org) Client(id *identity.Identity) (*apiclient.Client, error) {
	root, err := identity.LoadRoot(o.Home.Root())
	if err != nil {
		return nil, err
	}
	return apiclient.New(o.apiAddr, id, root)
}

// Stop takes the org's node offline (its home stays; Start brings it back).
func (o *Org) Stop() error {
	if o.Daemon == nil {
		return nil
	}
	err := o.Daemon.Close()
	o.Daemon, o.Node, o.Server = nil, nil, nil
	return err
}

// waitConnected waits until every node's libp2p host reached the others.
func (c *Consortium) waitConnected(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, a := range c.Orgs {
		for _, b := range c.Orgs {
			if a == b {
				continue
			}
			for a.Daemon.P2P.Host.Network().Connectedness(b.Daemon.P2P.Host.ID()) != 1 {
				if time.Now().After(deadline) {
					return fmt.Errorf("%s and %s did not connect over libp2p", a.Name, b.Name)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	return nil
}

// WaitHeight waits until o's node committed height h of the channel.
func (o *Org) WaitHeight(h int64, d time.Duration) error {
	c, err := o.Node.Channel("default")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	for {
		if got, _ := c.App.Height(); got >= h {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not reach height %d", o.Name, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops every node.
func (c *Consortium) Close() error {
	var errs []error
	for _, o := range c.Orgs {
		errs = append(errs, o.Stop())
	}
	return errors.Join(errs...)
}
