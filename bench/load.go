package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sealnet/sealnet/apiclient"
)

// The network benchmark's load generator and its measurements: batches of
// pre-signed transactions sent to every validator through apiclient, the
// validators' CPU time read from /proc, and a CPU profile of validator 1.

// drive sends txs[i] to validator i in batches of o.Batch from o.Clients
// workers for o.Duration. A transaction's latency is its batch's round
// trip: from sending the request until its result, which the node gives
// once the transaction committed.
func (o NetworkOptions) drive(ctx context.Context, name string, n *network, txs [][][]byte) (NetTarget, error) {
	t := NetTarget{Target: Target{Name: name, TxBytes: len(txs[0][0])}}
	next := make([]atomic.Int64, len(n.clients))
	// warm-up, not measured: connections, and a first block with load
	for i, c := range n.clients {
		k := min(10, len(txs[i]))
		r, err := c.SubmitBatch(ctx, n.channel, txs[i][:k])
		if err != nil {
			return t, fmt.Errorf("%s: warm-up at validator %d: %w", name, i+1, err)
		}
		if r.Committed != k {
			return t, fmt.Errorf("%s: warm-up at validator %d: %d of %d committed (%s)", name, i+1, r.Committed, k, firstRefusal(r))
		}
		next[i].Store(int64(k))
	}
	o.progress("%s: %d clients sending batches of %d to %d validators for %s", name, o.Clients, o.Batch, len(n.clients), o.Duration)
	h0 := n.height(ctx)
	cpu0, self0, load0 := n.cpu(), selfCPU(), loadAvg()
	profiled := make(chan string, 1)
	go func() { profiled <- o.profile(name, n) }()

	type worker struct {
		node                                     int
		lat                                      []time.Duration
		requests, submitted, committed, rejected int
		firstErr                                 string
	}
	workers := make([]worker, o.Clients)
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	for w := range workers {
		wk := &workers[w]
		wk.node = w % len(n.clients)
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := txs[wk.node]
			for ctx.Err() == nil && time.Now().Before(deadline) {
				end := int(next[wk.node].Add(int64(o.Batch)))
				if end-o.Batch >= len(mine) {
					return
				}
				batch := mine[end-o.Batch : min(end, len(mine))]
				t0 := time.Now()
				r, err := n.clients[wk.node].SubmitBatch(ctx, n.channel, batch)
				d := time.Since(t0)
				wk.requests++
				wk.submitted += len(batch)
				if err != nil {
					wk.rejected += len(batch)
					if wk.firstErr == "" {
						wk.firstErr = err.Error()
					}
					continue
				}
				for _, it := range r.Results {
					if it.Status == http.StatusOK {
						wk.committed++
						wk.lat = append(wk.lat, d)
					} else {
						wk.rejected++
						if wk.firstErr == "" {
							wk.firstErr = fmt.Sprintf("%s (%s)", it.Error, it.CodeName)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, self1, load1 := n.cpu(), selfCPU(), loadAvg()
	h1 := n.height(ctx)
	t.Profile = <-profiled

	t.Nodes = make([]NodeLoad, len(n.clients))
	for i := range t.Nodes {
		t.Nodes[i] = NodeLoad{Addr: n.addrs[i], CPU: cpu1[i].minus(cpu0[i])}
		t.CPU = t.CPU.plus(t.Nodes[i].CPU)
	}
	var lat []time.Duration
	for _, wk := range workers {
		nl := &t.Nodes[wk.node]
		nl.Requests += wk.requests
		nl.Submitted += wk.submitted
		nl.Committed += wk.committed
		nl.Rejected += wk.rejected
		t.Requests += wk.requests
		t.Submitted += wk.submitted
		t.Committed += wk.committed
		t.Rejected += wk.rejected
		if t.FirstErr == "" {
			t.FirstErr = wk.firstErr
		}
		lat = append(lat, wk.lat...)
	}
	t.Seconds = elapsed.Seconds()
	t.TPS = float64(t.Committed) / elapsed.Seconds()
	t.P50ms, t.P99ms = percentiles(lat)
	t.HarnessCPU = self1.minus(self0)
	t.LoadAvg = [2]float64{load0, load1}
	if h0 > 0 && h1 > h0 {
		t.Blocks = h1 - h0
		t.TxPerBlock = float64(t.Committed) / float64(t.Blocks)
	}
	if t.Committed > 0 {
		t.CPUPerTxUs = (t.CPU.UserS + t.CPU.SysS) / float64(t.Committed) * 1e6
	}
	o.progress("%s: %d committed in %.1fs = %.0f tx/s, p50 %.0f ms, p99 %.0f ms, %d rejected; validators' CPU %.1f s user + %.1f s system (%.0f µs/tx); load average %.2f -> %.2f",
		name, t.Committed, t.Seconds, t.TPS, t.P50ms, t.P99ms, t.Rejected, t.CPU.UserS, t.CPU.SysS, t.CPUPerTxUs, load0, load1)
	if t.Committed == 0 {
		return t, fmt.Errorf("%s committed nothing (first error: %s)", name, t.FirstErr)
	}
	return t, ctx.Err()
}

func percentiles(ls []time.Duration) (p50, p99 float64) {
	if len(ls) == 0 {
		return 0, 0
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return ms(ls[len(ls)*50/100]), ms(ls[min(len(ls)*99/100, len(ls)-1)])
}

func firstRefusal(r *apiclient.BatchResponse) string {
	for _, it := range r.Results {
		if it.Status != http.StatusOK {
			return fmt.Sprintf("%s: %s", it.CodeName, it.Error)
		}
	}
	return "none refused"
}

// height is validator 1's committed height (0 if it does not answer).
func (n *network) height(ctx context.Context) int64 {
	st, err := n.clients[0].Status(ctx)
	if err != nil || len(st.Channels) == 0 {
		return 0
	}
	return st.Channels[0].Height
}

// profile takes a CPU profile of validator 1 for most of the window and
// returns the file it wrote ("" when not asked for or failed).
func (o NetworkOptions) profile(name string, n *network) string {
	if o.Profile == "" {
		return ""
	}
	secs := max(1, int(o.Duration.Seconds())-1)
	var resp *http.Response
	var err error
	if n.ops != "" {
		cl := http.Client{Timeout: time.Duration(secs+30) * time.Second}
		resp, err = cl.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", n.ops, secs))
	} else {
		c := n.clients[0]
		resp, err = c.HTTP.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", c.Base, secs))
	}
	if err != nil {
		o.progress("%s: no profile: %v", name, err)
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.progress("%s: no profile: HTTP %d", name, resp.StatusCode)
		return ""
	}
	path := filepath.Join(o.Profile, strings.Fields(name)[0]+"-validator1.pprof")
	f, err := os.Create(path)
	if err == nil {
		_, err = io.Copy(f, resp.Body)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		o.progress("%s: no profile: %v", name, err)
		return ""
	}
	return path
}

// ProcCPU is CPU time in seconds, in user space and in the kernel.
type ProcCPU struct {
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
}

func (a ProcCPU) minus(b ProcCPU) ProcCPU { return ProcCPU{a.UserS - b.UserS, a.SysS - b.SysS} }
func (a ProcCPU) plus(b ProcCPU) ProcCPU  { return ProcCPU{a.UserS + b.UserS, a.SysS + b.SysS} }

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's times.
const clockTicks = 100

// procCPU reads a process's CPU times from /proc (zero elsewhere).
func procCPU(pid string) ProcCPU {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ProcCPU{}
	}
	// the command name may hold spaces; the fields follow its ')'
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return ProcCPU{}
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return ProcCPU{u / clockTicks, s / clockTicks}
}

func selfCPU() ProcCPU { return procCPU("self") }

func (n *network) cpu() []ProcCPU {
	out := make([]ProcCPU, len(n.procs))
	for i, p := range n.procs {
		out[i] = procCPU(strconv.Itoa(p.cmd.Process.Pid))
	}
	return out
}

// loadAvg is the machine's 1-minute load average (0 where unknown).
func loadAvg() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// proc is a validator process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(bin, logPath string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process with SIGTERM, and kills it if it has not exited
// 20 s later.
func (p *proc) stop() error {
	if p.exited() {
		return fmt.Errorf("%s exited early (%v): see %s", p.cmd.Path, p.err, p.log)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s: %v: see %s", strings.Join(p.cmd.Args, " "), p.err, p.log)
		}
		return nil
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 20 s: see %s", strings.Join(p.cmd.Args, " "), p.log)
	}
}
