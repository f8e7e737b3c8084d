// Starting and stopping an assembled node: the order in which its parts
// come up, the API's listeners, and the logger of its configuration.

package daemon

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sealnet/sealnet/api"
	"github.com/sealnet/sealnet/compute/custody"
	"github.com/sealnet/sealnet/custodian"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/node"
	"github.com/sealnet/sealnet/p2p"
	"github.com/sealnet/sealnet/payment"
	"github.com/sealnet/sealnet/store"
)

// Options add to what the home's configuration says.
type Options struct {
	Log  *slog.Logger // nil: the [log] section's level and format, on standard error
	DCMB *dcmb.Config // DCMB pipelines and receivers to run (sealnet dcmb run); nil: none
}

// Daemon is an assembled, running node. The parts a node's configuration
// leaves out are nil: P2P, Store, Custodian, Compute and Payments without
// p2p.listen, DCMB without Options.DCMB.
type Daemon struct {
	Log       *slog.Logger
	Node      *node.Node
	P2P       *p2p.Node
	Store     *store.Shared
	Custodian *custodian.Custodian
	Compute   *custody.Service
	Payments  *payment.Service
	Server    *api.Server
	DCMB      *DCMB

	api, ops net.Listener
	failed   chan error
	mu       sync.Mutex
	closers  []func() error // in start order; Close runs them backwards
}

// Start assembles the node of home h and serves its API. It holds the
// home's lock until Close: a second node on the same home fails with a
// *node.HomeInUseError naming the first one's PID.
func Start(h node.Home, o Options) (*Daemon, error) {
	cfg, err := h.LoadConfig()
	if err != nil {
		return nil, err
	}
	lock, err := h.Lock()
	if err != nil {
		return nil, err
	}
	d := &Daemon{Log: o.Log, failed: make(chan error, 1), closers: []func() error{lock.Release}}
	if d.Log == nil {
		d.Log = newLogger(cfg.Log)
	}
	if err := d.start(h, cfg, o); err != nil {
		d.Close()
		return nil, err
	}
	d.Log.Info("node up", "org", cfg.Org, "api", "https://"+d.APIAddr(), "ops", cfg.API.OpsListen, "home", string(h))
	return d, nil
}

func (d *Daemon) start(h node.Home, cfg *node.Config, o Options) error {
	n, err := node.Open(h, Contracts, d.Log)
	if err != nil {
		return err
	}
	d.Node = n
	d.closers = append(d.closers, n.Close)
	n.OnChannel(func(c *ledger.Channel) {
		go func() {
			<-c.App.Failed()
			d.fail(fmt.Errorf("channel %s stopped: %w", c.Name, c.App.Failure()))
		}()
	})
	if len(cfg.P2P.Listen) > 0 {
		if err := d.startSharing(h, cfg); err != nil {
			return err
		}
		if err := d.startPayments(h); err != nil {
			return err
		}
	}
	d.startCompute()
	b := api.Backend{Node: n, Store: d.Store, Custodian: d.Custodian}
	if d.Compute != nil {
		b.Compute = computeAPI{d.Custodian, d.Compute}
	}
	d.Server = api.NewServer(b)
	if d.Payments != nil {
		d.Server.SetPayments(d.Payments)
	}
	if err := d.serve(cfg.API); err != nil {
		return err
	}
	if o.DCMB != nil {
		if _, err := d.StartDCMB(o.DCMB, nil); err != nil {
			return err
		}
	}
	return nil
}

// serve opens the API's TLS listener and the operations listener.
func (d *Daemon) serve(c node.APIConfig) error {
	ln, err := api.Listen(c.Listen, d.Node.Identity)
	if err != nil {
		return err
	}
	d.api = ln
	srv := &http.Server{Handler: d.Server, ReadHeaderTimeout: 10 * time.Second, ErrorLog: tlsErrorLog(d.Log)}
	go func() { d.fail(srv.Serve(ln)) }()
	d.closers = append(d.closers, func() error {
		// requests in flight get a few seconds; event streams do not end
		// by themselves and are cut then
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		return srv.Close()
	})
	if c.OpsListen == "" {
		return nil
	}
	if d.ops, err = net.Listen("tcp", c.OpsListen); err != nil {
		return fmt.Errorf("api ops listen: %w", err)
	}
	handler := d.Server.Ops()
	if c.OpsPprof {
		handler = withPprof(handler)
	}
	ops := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { d.fail(ops.Serve(d.ops)) }()
	d.closers = append(d.closers, ops.Close)
	return nil
}

// withPprof adds Go's profiler under /debug/pprof/ to the operations
// handler h (api.ops_pprof).
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// APIAddr is the address the API listens on.
func (d *Daemon) APIAddr() string { return d.api.Addr().String() }

// OpsAddr is the address of the operations listener ("" when off).
func (d *Daemon) OpsAddr() string {
	if d.ops == nil {
		return ""
	}
	return d.ops.Addr().String()
}

// Failed delivers why the node cannot go on: a listener that stopped
// serving before Close, or a channel that cannot commit (its consensus
// stopped, its disk is full).
func (d *Daemon) Failed() <-chan error { return d.failed }

// fail reports err on Failed unless a failure is already waiting there.
func (d *Daemon) fail(err error) {
	select {
	case d.failed <- err:
	default:
	}
}

// Close stops the node: the DCMB first (it seals its open interval), then
// the API, the custodian, storage, the libp2p host and the channels, and
// releases the home.
func (d *Daemon) Close() error {
	d.mu.Lock()
	closers := d.closers
	d.closers = nil
	d.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
