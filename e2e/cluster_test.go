package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
)

// relay forwards TCP connections from its listener to a target until it is
// blocked: then it cuts every connection it carries and refuses new ones,
// which partitions the two nodes it links.
type relay struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	blocked bool
	conns   map[net.Conn]struct{}
}

func newRelay(t *testing.T, host, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go r.serve()
	t.Cleanup(func() { ln.Close(); r.block() })
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		blocked := r.blocked
		r.mu.Unlock()
		if blocked {
			c.Close()
			continue
		}
		d, err := net.DialTimeout("tcp", r.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns[c], r.conns[d] = struct{}{}, struct{}{}
		r.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			r.mu.Lock()
			delete(r.conns, dst)
			delete(r.conns, src)
			r.mu.Unlock()
		}
		go pipe(c, d)
		go pipe(d, c)
	}
}

func (r *relay) block() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blocked = true
	for c := range r.conns {
		c.Close()
	}
}

func (r *relay) heal() {
	r.mu.Lock()
	r.blocked = false
	r.mu.Unlock()
}

// cluster is an N-org network of node processes whose CometBFT peers reach
// each other only through relays the test controls.
type cluster struct {
	t       *testing.T
	sealnet string
	dir     string
	homes   []string
	procs   []*proc
	clients []*apiclient.Client // each org's admin at its own node
	admins  []*identity.Identity
	ops     []string
	relays  [][]*relay // relays[i][j] carries i's link to j
}

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, sealnet: bin(t)}
	c.dir, _ = testnet(t, c.sealnet, n)
	cfgs := make([]*node.Config, n)
	ids := map[string]string{} // p2p host:port -> CometBFT node ID
	for i := range n {
		h := node.Home(filepath.Join(c.dir, fmt.Sprintf("org%d", i+1)))
		c.homes = append(c.homes, string(h))
		cfg, err := h.LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfgs[i] = cfg
		for _, p := range strings.Split(cfg.Channels[0].PersistentPeers, ",") {
			if id, addr, ok := strings.Cut(p, "@"); ok {
				ids[addr] = id
			}
		}
	}
	c.relays = make([][]*relay, n)
	for i := range n {
		c.relays[i] = make([]*relay, n)
		var peers []string
		host, _, _ := net.SplitHostPort(strings.TrimPrefix(cfgs[i].Channels[0].P2PListen, "tcp://"))
		for j := range n {
			if j == i {
				continue
			}
			target := strings.TrimPrefix(cfgs[j].Channels[0].P2PListen, "tcp://")
			c.relays[i][j] = newRelay(t, host, target)
			peers = append(peers, ids[target]+"@"+c.relays[i][j].addr())
		}
		cfgs[i].Channels[0].PersistentPeers = strings.Join(peers, ",")
		cfgs[i].Channels[0].NoPEX = true
		if err := node.Home(c.homes[i]).SaveConfig(cfgs[i]); err != nil {
			t.Fatal(err)
		}
		admin, err := identity.LoadIdentity(node.Home(c.homes[i]).Keys(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		root, err := identity.LoadRoot(node.Home(c.homes[i]).Root())
		if err != nil {
			t.Fatal(err)
		}
		cl, err := apiclient.New(cfgs[i].API.Listen, admin, root)
		if err != nil {
			t.Fatal(err)
		}
		c.admins, c.clients, c.ops = append(c.admins, admin), append(c.clients, cl), append(c.ops, cfgs[i].API.OpsListen)
	}
	for i := range n {
		c.procs = append(c.procs, start(t, c.sealnet, c.homes[i]))
	}
	for i := range n {
		c.waitReady(i, 90*time.Second)
	}
	return c
}

// ready asks a node's /readyz.
func (c *cluster) ready(i int) error {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + c.ops[i] + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r apiclient.Readiness
	json.NewDecoder(resp.Body).Decode(&r)
	if !r.Ready {
		return fmt.Errorf("not ready: %v", r.Checks)
	}
	return nil
}

// waitReady waits for org i's /readyz and returns how long it took.
func (c *cluster) waitReady(i int, d time.Duration) time.Duration {
	c.t.Helper()
	t0 := time.Now()
	waitFor(c.t, fmt.Sprintf("org%d ready", i+1), d, func() error { return c.ready(i) })
	return time.Since(t0)
}

func (c *cluster) kill(i int)    { c.procs[i].kill(c.t) }
func (c *cluster) restart(i int) { c.procs[i] = start(c.t, c.sealnet, c.homes[i]) }

func (c *cluster) signal(i int, s syscall.Signal) {
	if err := c.procs[i].cmd.Process.Signal(s); err != nil {
		c.t.Fatal(err)
	}
}

// partition cuts org i off from every other node; heal reconnects it.
func (c *cluster) partition(i int, cut bool) {
	for j := range c.relays {
		for _, r := range []*relay{c.relays[i][j], c.relays[j][i]} {
			switch {
			case r == nil:
			case cut:
				r.block()
			default:
				r.heal()
			}
		}
	}
}

// ack is a transaction the API acknowledged as committed.
type ack struct {
	TxID   string
	Height int64
}

// load submits signed index entries through every node's API, several at a
// time per node, and keeps what was acknowledged.
type load struct {
	mu     sync.Mutex
	acked  []ack
	failed int
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func (c *cluster) startLoad(perNode int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{stop: cancel}
	for i := range c.clients {
		for w := range perNode {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for n := 0; ctx.Err() == nil; n++ {
					cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
					r, err := c.clients[i].Call(cctx, c.admins[i], "default", index.Name, "subfile", index.SubfileArgs{
						HashAddress: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
						Keywords:    []string{fmt.Sprintf("org%d-w%d-%d", i+1, w, n)}})
					ccancel()
					l.mu.Lock()
					if err == nil && r.Code == 0 {
						l.acked = append(l.acked, ack{r.TxID, r.Height})
					} else {
						l.failed++
					}
					l.mu.Unlock()
					if err != nil {
						time.Sleep(100 * time.Millisecond) // the node is down: try again later
					}
				}
			}()
		}
	}
	return l
}

// end stops the load and returns what was acknowledged.
func (l *load) end() []ack {
	l.stop()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acked...)
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// verify checks that every node holds every acknowledged transaction at
// the height it was acknowledged at, and that all nodes agree on the block
// and app hash at every height from `from` to the lowest node's height. It
// returns that height.
func (c *cluster) verify(acked []ack, from int64) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var target int64
	for _, a := range acked {
		target = max(target, a.Height)
	}
	for i := range c.clients {
		waitFor(c.t, fmt.Sprintf("org%d reaches height %d", i+1, target), 2*time.Minute, func() error {
			s, err := c.clients[i].Status(ctx)
			if err != nil {
				return err
			}
			if h := s.Channels[0].Height; h < target {
				return fmt.Errorf("at %d", h)
			}
			return nil
		})
	}
	lost := 0
	for i, cl := range c.clients {
		for _, a := range acked {
			r, err := cl.Tx(ctx, "default", a.TxID)
			if err != nil || r.Height != a.Height || r.Code != 0 {
				lost++
				if lost < 10 {
					c.t.Errorf("org%d: acknowledged tx %s (height %d): %v %+v", i+1, a.TxID, a.Height, err, r)
				}
			}
		}
	}
	low := int64(-1)
	for _, cl := range c.clients {
		s, err := cl.Status(ctx)
		if err != nil {
			c.t.Fatal(err)
		}
		if h := s.Channels[0].Height; low < 0 || h < low {
			low = h
		}
	}
	mismatches := 0
	for h := max(from, 1); h <= low; h++ {
		var ref *apiclient.BlockResponse
		for i, cl := range c.clients {
			b, err := cl.Block(ctx, "default", h)
			if err != nil {
				c.t.Fatalf("org%d block %d: %v", i+1, h, err)
			}
			if ref == nil {
				ref = b
			} else if b.Hash != ref.Hash || b.AppHash != ref.AppHash {
				mismatches++
				c.t.Errorf("org%d block %d: hash %s app %s; org1: %s %s", i+1, h, b.Hash, b.AppHash, ref.Hash, ref.AppHash)
			}
		}
	}
	c.t.Logf("verified %d acknowledged transactions on %d nodes (lost: %d) and heights %d-%d (app-hash mismatches: %d)",
		len(acked), len(c.clients), lost, max(from, 1), low, mismatches)
	return low
}

// durations summarises catch-up times.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("p50 %s, max %s", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
