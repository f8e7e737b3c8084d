package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealnet/sealnet/internal/parallel"

	"github.com/sealnet/sealnet/internal/syncbuf"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/member"
)

// ShareOptions shape the share benchmark.
type ShareOptions struct {
	SizesMB    []int     // file sizes; the paper's Figure 7 uses 1, 5, 10, 50 and 100
	Kubo       string    // path of the reference Kubo binary ("" skips the Kubo baseline)
	TxSecs     float64   // seconds per Subfile and Querfile throughput run
	GiB        bool      // also move a 1 GB file and report the process's peak memory
	Repeat     int       // 1 MB puts and gets whose median is put_1mb_ms and get_1mb_ms (0: 7)
	SmallFiles int       // files of the small-file run (0: none)
	SmallSize  int       // bytes per small file (0: 4096)
	Progress   io.Writer // progress lines (nil for none)
}

// SizeResult is one file size's figures, in MB/s (10^6 bytes per second).
type SizeResult struct {
	MB       int     `json:"mb"`
	Put      float64 `json:"put_mbps"`      // sealnet: sign, encrypt, store, key to custodian, Subfile
	Get      float64 `json:"get_mbps"`      // sealnet: key request and grant, fetch, decrypt, verify
	KuboAdd  float64 `json:"kubo_add_mbps"` // ipfs add on a Kubo daemon (no encryption)
	KuboGet  float64 `json:"kubo_get_mbps"` // ipfs get on a second Kubo daemon, over bitswap
	TCP      float64 `json:"tcp_mbps"`      // a plain TCP copy of the same bytes on loopback
	PutSecs  float64 `json:"put_seconds"`   //
	GetSecs  float64 `json:"get_seconds"`   //
	PaperSec float64 `json:"paper_seconds"` // paper 002's upload time for this size, where it reports one
}

// ShareResult is the whole run.
type ShareResult struct {
	// latency of one 1 MB object (the median of Repeat), and Kubo's add and
	// bitswap get of the same bytes
	Put1MBms     float64 `json:"put_1mb_ms"`
	Get1MBms     float64 `json:"get_1mb_ms"`
	KuboAdd1MBms float64 `json:"kubo_add_1mb_ms,omitempty"`
	KuboGet1MBms float64 `json:"kubo_get_1mb_ms,omitempty"`
	// many small files put at once (member.PutMany: encrypted, stored,
	// keys handed over, indexed) and 'ipfs add -r' of the same directory
	SmallFiles         int          `json:"small_files,omitempty"`
	SmallSize          int          `json:"small_file_bytes,omitempty"`
	SmallFilesPerS     float64      `json:"small_files_per_s"`
	KuboSmallFilesPerS float64      `json:"kubo_small_files_per_s"`
	SmallFilesBlocks   int64        `json:"small_files_blocks,omitempty"` // chain blocks their entries took
	LoadAvg            float64      `json:"loadavg_1m"`                   // the machine's at the start
	Sizes              []SizeResult `json:"sizes"`
	SubfileTPS         float64      `json:"subfile_tps"`
	QuerfileTPS        float64      `json:"querfile_tps"`
	Put100             float64      `json:"put_100mb_mbps"`
	Get100             float64      `json:"get_100mb_mbps"`
	KuboAdd100         float64      `json:"kubo_add_100mb_mbps"`
	KuboGet100         float64      `json:"kubo_get_100mb_mbps"`
	TCP100             float64      `json:"tcp_100mb_mbps"`
	PeakRSSMB1GB       float64      `json:"peak_rss_mb_1gb,omitempty"` // whole process (both nodes and the client) while moving 1 GB
	RSSBeforeMB        float64      `json:"rss_before_1gb_mb,omitempty"`
	Put1GB             float64      `json:"put_1gb_mbps,omitempty"`
	Get1GB             float64      `json:"get_1gb_mbps,omitempty"`
	KuboVersion        string       `json:"kubo_version,omitempty"`
	KuboSkipped        string       `json:"kubo_skipped,omitempty"`
}

var paperUpload = map[int]float64{1: 0.11, 5: 0.26, 10: 0.95, 50: 10.55, 100: 25.34}

func (o ShareOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// Share measures file exchange between two companies' nodes beside Kubo
// and a raw TCP copy of the same bytes, then Subfile and Querfile rates.
func Share(ctx context.Context, o ShareOptions) (*ShareResult, error) {
	dir, err := os.MkdirTemp("", "sealnet-bench-share-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c, err := local.Start(filepath.Join(dir, "net"), 2, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	owner, requester := c.Orgs[0], c.Orgs[1]
	var kubo *kuboPair
	res := &ShareResult{LoadAvg: loadAvg()}
	if o.Kubo != "" {
		o.progress("starting two Kubo daemons")
		if kubo, err = startKuboPair(ctx, o.Kubo, filepath.Join(dir, "kubo")); err != nil {
			return nil, fmt.Errorf("kubo baseline: %w", err)
		}
		defer kubo.stop()
		res.KuboVersion = kubo.version
	} else {
		res.KuboSkipped = "no Kubo binary given"
	}
	// the first transaction after start waits for the validators to
	// reach each other; it is not what a put costs
	if _, err := member.Put(ctx, owner.API, owner.Admin, "default", strings.NewReader("warm-up"), member.Meta{Keywords: []string{"warm-up"}}, nil); err != nil {
		return nil, fmt.Errorf("warm-up put: %w", err)
	}
	if err := res.latency(ctx, o, dir, owner, requester, kubo); err != nil {
		return nil, err
	}
	if o.SmallFiles > 0 {
		if err := res.smallFiles(ctx, o, dir, owner, kubo); err != nil {
			return nil, err
		}
	}
	for i, mb := range o.SizesMB {
		path := filepath.Join(dir, fmt.Sprintf("data-%d", i))
		if err := writeRandom(path, int64(mb)*1_000_000, i); err != nil {
			return nil, err
		}
		r := SizeResult{MB: mb, PaperSec: paperUpload[mb]}
		n := int64(mb) * 1_000_000

		f, _ := os.Open(path)
		t0 := time.Now()
		put, err := member.Put(ctx, owner.API, owner.Admin, "default", f, member.Meta{Keywords: []string{"bench"}, Summary: fmt.Sprintf("%d MB", mb)}, nil)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("put %d MB: %w", mb, err)
		}
		r.PutSecs = time.Since(t0).Seconds()
		r.Put = mbps(n, time.Since(t0))
		if err := requester.WaitHeight(put.Height, 30*time.Second); err != nil {
			return nil, err
		}
		out := filepath.Join(dir, "out")
		of, err := os.Create(out)
		if err != nil {
			return nil, err
		}
		t0 = time.Now()
		_, err = member.Get(ctx, requester.API, requester.Admin, "default", put.TXNumber, of, nil)
		of.Close()
		if err != nil {
			return nil, fmt.Errorf("get %d MB: %w", mb, err)
		}
		r.GetSecs = time.Since(t0).Seconds()
		r.Get = mbps(n, time.Since(t0))
		if !sameFile(path, out) {
			return nil, fmt.Errorf("get %d MB: content differs", mb)
		}
		os.Remove(out)
		if kubo != nil {
			if r.KuboAdd, r.KuboGet, err = kubo.transfer(ctx, path, n); err != nil {
				return nil, err
			}
		}
		if r.TCP, err = tcpCopy(path, n); err != nil {
			return nil, err
		}
		o.progress("%4d MB  put %7.1f MB/s  get %7.1f MB/s  | kubo add %7.1f  bitswap get %7.1f  | tcp %8.1f MB/s",
			mb, r.Put, r.Get, r.KuboAdd, r.KuboGet, r.TCP)
		res.Sizes = append(res.Sizes, r)
		if mb == 100 {
			res.Put100, res.Get100, res.KuboAdd100, res.KuboGet100, res.TCP100 = r.Put, r.Get, r.KuboAdd, r.KuboGet, r.TCP
		}
		os.Remove(path)
	}
	if o.GiB {
		if err := res.moveGiB(ctx, o, dir, owner, requester); err != nil {
			return nil, err
		}
	}
	ch, err := owner.Node.Channel("default")
	if err != nil {
		return nil, err
	}
	if res.SubfileTPS, err = txRate(ctx, ch, owner, "subfile", o.TxSecs); err != nil {
		return nil, err
	}
	o.progress("Subfile  %.0f tx/s", res.SubfileTPS)
	if res.QuerfileTPS, err = txRate(ctx, ch, owner, "querfile", o.TxSecs); err != nil {
		return nil, err
	}
	o.progress("Querfile %.0f tx/s", res.QuerfileTPS)
	return res, nil
}

func sameFile(a, b string) bool {
	ha, hb := sha256.New(), sha256.New()
	fa, err := os.Open(a)
	if err != nil {
		return false
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	io.Copy(ha, fa)
	io.Copy(hb, fb)
	return bytes.Equal(ha.Sum(nil), hb.Sum(nil))
}

// writeRandom writes n pseudo-random bytes, different for each seed, so no
// store can deduplicate one run's blocks against another's.
// moveGiB puts and gets a 1 GB file and records the process's peak
// resident memory during the transfer (Linux: VmHWM after clear_refs).
func (res *ShareResult) moveGiB(ctx context.Context, o ShareOptions, dir string, owner, requester *local.Org) error {
	path := filepath.Join(dir, "gib")
	const n = 1_000_000_000
	if err := writeRandom(path, n, 1<<10); err != nil {
		return err
	}
	defer os.Remove(path)
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak memory: %w", err)
	}
	res.RSSBeforeMB = procStatusMB("VmRSS")
	f, _ := os.Open(path)
	t0 := time.Now()
	put, err := member.Put(ctx, owner.API, owner.Admin, "default", f, member.Meta{Keywords: []string{"bench"}, Summary: "1 GB"}, nil)
	f.Close()
	if err != nil {
		return fmt.Errorf("put 1 GB: %w", err)
	}
	res.Put1GB = mbps(n, time.Since(t0))
	if err := requester.WaitHeight(put.Height, 30*time.Second); err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := member.Get(ctx, requester.API, requester.Admin, "default", put.TXNumber, io.Discard, nil); err != nil {
		return fmt.Errorf("get 1 GB: %w", err)
	}
	res.Get1GB = mbps(n, time.Since(t0))
	res.PeakRSSMB1GB = procStatusMB("VmHWM")
	o.progress("1 GB     put %7.1f MB/s  get %7.1f MB/s  peak RSS of the whole process %.0f MB (%.0f MB before)", res.Put1GB, res.Get1GB, res.PeakRSSMB1GB, res.RSSBeforeMB)
	return nil
}

// procStatusMB reads a kB field of /proc/self/status in MB (0 if absent).
func procStatusMB(field string) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, field+": %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

func writeRandom(path string, n int64, seed int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(f, rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 0x5e}), n)
	return err
}

// tcpCopy sends the file over a loopback TCP connection and returns the
// receiver's rate: the paper's "TCP/IP" baseline.
func tcpCopy(path string, n int64) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		got, err := io.Copy(io.Discard, conn)
		if err == nil && got != n {
			err = fmt.Errorf("tcp copy: %d of %d bytes", got, n)
		}
		done <- err
	}()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	t0 := time.Now()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(conn, f); err != nil {
		conn.Close()
		return 0, err
	}
	conn.Close()
	if err := <-done; err != nil {
		return 0, err
	}
	return mbps(n, time.Since(t0)), nil
}

// txRate measures committed Subfile or Querfile transactions per second
// on the owner's node, signing ahead like the ledger benchmark does.
func txRate(ctx context.Context, ch *ledger.Channel, o *local.Org, method string, secs float64) (float64, error) {
	n := int(secs * maxRate)
	txs := make([][]byte, n)
	now := time.Now()
	var firstErr error
	parallel.For(n, func(i int) {
		var args any = index.FindArgs{Keyword: "bench", Limit: 10}
		if method == "subfile" {
			args = index.SubfileArgs{HashAddress: SampleCID, Summary: fmt.Sprintf("batch %d", i), Keywords: []string{"bench-tx"}}
		}
		tx, err := apiclient.SignCall(o.Admin, "default", index.Name, method, args, now)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		txs[i] = tx
	})
	if firstErr != nil {
		return 0, firstErr
	}
	run := &run{submit: channelSubmit(ch), stop: func() error { return nil }}
	t, err := LedgerOptions{Duration: time.Duration(secs * float64(time.Second)), Clients: 2000}.drive(ctx, method, run, txs)
	if err != nil {
		return 0, err
	}
	return t.TPS, nil
}

// kuboPair is two private Kubo daemons on loopback, connected to each other.
type kuboPair struct {
	bin     string
	repos   [2]string
	procs   [2]*exec.Cmd
	version string
}

func (k *kuboPair) ipfs(ctx context.Context, i int, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repos[i])
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ipfs %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func startKuboPair(ctx context.Context, bin, dir string) (*kuboPair, error) {
	k := &kuboPair{bin: bin}
	var addrs [2]string
	for i := range 2 {
		k.repos[i] = filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(k.repos[i], 0o700); err != nil {
			return nil, err
		}
		ports := make([]int, 3)
		for j := range ports {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			ports[j] = p
		}
		steps := [][]string{
			{"init", "--empty-repo", "--profile", "test"},
			{"config", "--json", "Addresses.Swarm", fmt.Sprintf(`["/ip4/127.0.0.1/tcp/%d"]`, ports[0])},
			{"config", "Addresses.API", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[1])},
			{"config", "Addresses.Gateway", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[2])},
			{"config", "Routing.Type", "none"},
			{"config", "--json", "Discovery.MDNS.Enabled", "false"},
			{"bootstrap", "rm", "--all"},
		}
		for _, s := range steps {
			if _, err := k.ipfs(ctx, i, s...); err != nil {
				return nil, err
			}
		}
		id, err := k.ipfs(ctx, i, "config", "Identity.PeerID")
		if err != nil {
			return nil, err
		}
		addrs[i] = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", ports[0], id)
		cmd := exec.Command(bin, "daemon")
		cmd.Env = append(os.Environ(), "IPFS_PATH="+k.repos[i])
		var out syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		k.procs[i] = cmd
		ready := false
		for range 200 {
			if strings.Contains(out.String(), "Daemon is ready") {
				ready = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !ready {
			k.stop()
			return nil, errors.New("kubo daemon did not start: " + out.String())
		}
	}
	if _, err := k.ipfs(ctx, 1, "swarm", "connect", addrs[0]); err != nil {
		k.stop()
		return nil, err
	}
	k.version, _ = k.ipfs(ctx, 0, "version", "-n")
	return k, nil
}

// transfer adds the file on daemon 0 and gets it on daemon 1, in MB/s.
func (k *kuboPair) transfer(ctx context.Context, path string, n int64) (add, get float64, err error) {
	a, g, err := k.timed(ctx, path, n)
	return mbps(n, a), mbps(n, g), err
}

// timed adds the file on daemon 0 and gets it on daemon 1.
func (k *kuboPair) timed(ctx context.Context, path string, n int64) (add, get time.Duration, err error) {
	t0 := time.Now()
	cid, err := k.ipfs(ctx, 0, "add", "-Q", "--cid-version", "1", "--raw-leaves", "--chunker", "size-262144", path)
	if err != nil {
		return 0, 0, err
	}
	add = time.Since(t0)
	out := path + ".kubo"
	defer os.Remove(out)
	t0 = time.Now()
	if _, err := k.ipfs(ctx, 1, "get", "-o", out, cid); err != nil {
		return 0, 0, err
	}
	get = time.Since(t0)
	if fi, err := os.Stat(out); err != nil || fi.Size() != n {
		return 0, 0, fmt.Errorf("kubo get of %s: wrong size", cid)
	}
	return add, get, nil
}

func (k *kuboPair) stop() {
	for _, p := range k.procs {
		if p != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
}
