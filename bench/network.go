package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sealnet/sealnet/local"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
)

// NetworkOptions shape the network ledger benchmark: N validators, each
// its own OS process on its own 127.0.0.x, as a consortium runs them.
type NetworkOptions struct {
	Binary        string        // the sealnet binary: 'up' runs a sealnet validator, the hidden 'bench kvnode' a baseline one
	Validators    int           // validators per network
	Duration      time.Duration // measured time per network
	Clients       int           // batch requests in flight at once, in all, spread evenly over the validators
	Batch         int           // transactions per request
	TimeoutCommit time.Duration // pause after each commit, both networks
	Dir           string        // scratch directory ("" for a temporary one)
	Profile       string        // directory for a CPU profile of validator 1 of each network ("" for none)
	Only          string        // run one network: ours or kvstore_sig; "" for both
	Progress      io.Writer     // progress lines (nil for none)
}

// NetworkResult is both networks' figures from one run.
type NetworkResult struct {
	Validators    int       `json:"validators"`
	Ours          NetTarget `json:"ours"`
	KVStoreSig    NetTarget `json:"kvstore_sig"`
	OursTPS       float64   `json:"ours_tps"`
	KVStoreSigTPS float64   `json:"kvstore_sig_tps"`
	Ratio         float64   `json:"ratio"`
	P50ms         float64   `json:"p50_ms"` // ours
	P99ms         float64   `json:"p99_ms"` // ours
	Clients       int       `json:"clients"`
	Batch         int       `json:"batch"`
	DurationS     float64   `json:"duration_s"`
	TimeoutCommit string    `json:"timeout_commit"`
	MempoolSize   int       `json:"mempool_size"`
	NumCPU        int       `json:"num_cpu"`
}

// NetTarget is one network's figures.
type NetTarget struct {
	Target
	Requests   int        `json:"requests"`
	Blocks     int64      `json:"blocks"`            // committed on validator 1 during the window
	TxPerBlock float64    `json:"txs_per_block"`     //
	Nodes      []NodeLoad `json:"nodes"`             // how the load was spread
	CPU        ProcCPU    `json:"validators_cpu"`    // the validator processes together, during the window
	CPUPerTxUs float64    `json:"cpu_us_per_tx"`     // validators' CPU per committed transaction
	HarnessCPU ProcCPU    `json:"harness_cpu"`       // this process (the load generator), during the window
	LoadAvg    [2]float64 `json:"loadavg_1m"`        // the machine's 1-minute load average before and after
	Profile    string     `json:"profile,omitempty"` // CPU profile of validator 1 during the window
}

// NodeLoad is one validator's share of the load.
type NodeLoad struct {
	Addr      string  `json:"addr"`
	Requests  int     `json:"requests"`
	Submitted int     `json:"submitted"`
	Committed int     `json:"committed"`
	Rejected  int     `json:"rejected"`
	CPU       ProcCPU `json:"cpu"`
}

// maxNetRate bounds how many transactions are signed ahead per second of
// run; a network that exhausts them ends early and its rate stays correct.
const maxNetRate = 8000

// Network runs a sealnet network and a network of CometBFT validators
// running the signature-checking kvstore, one after the other, with the
// same CometBFT settings, topology and transaction size, and drives both
// through the same load generator and API client.
func Network(ctx context.Context, o NetworkOptions) (*NetworkResult, error) {
	switch {
	case o.Binary == "":
		return nil, errors.New("no sealnet binary to run the validators")
	case o.Validators < 1 || o.Validators > 16:
		return nil, fmt.Errorf("validators %d: want 1-16", o.Validators)
	case o.Duration <= 0 || o.Duration > 45*time.Second:
		return nil, fmt.Errorf("duration %s: want up to 45s (pre-signed transactions must stay inside the 60 s timestamp window)", o.Duration)
	case o.Clients < o.Validators:
		return nil, fmt.Errorf("clients %d: want at least one per validator (%d)", o.Clients, o.Validators)
	case o.Batch < 1 || o.Batch > apiclient.MaxBatchTxs:
		return nil, fmt.Errorf("batch %d: want 1-%d", o.Batch, apiclient.MaxBatchTxs)
	case o.Only != "" && o.Only != "ours" && o.Only != "kvstore_sig":
		return nil, fmt.Errorf("unknown network %q (want ours or kvstore_sig)", o.Only)
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sealnet-bench-net-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if o.Profile != "" {
		if err := os.MkdirAll(o.Profile, 0o755); err != nil {
			return nil, err
		}
	}
	res := &NetworkResult{Validators: o.Validators, Clients: o.Clients, Batch: o.Batch, DurationS: o.Duration.Seconds(), NumCPU: runtime.NumCPU()}
	hostBase := 20 + mrand.IntN(100)
	// the sealnet network's homes fix the settings and the transaction
	// size both networks run with
	ours, err := o.writeOurs(filepath.Join(dir, "ours"), hostBase)
	if err != nil {
		return nil, fmt.Errorf("sealnet network: %w", err)
	}
	res.TimeoutCommit, res.MempoolSize = (time.Duration(ours.chain.TimeoutCommitMS) * time.Millisecond).String(), ours.chain.MempoolSize
	one, err := ours.sign(1)
	if err != nil {
		return nil, err
	}
	size := len(one[0][0])
	if o.Only != "kvstore_sig" {
		if err := o.start(ours); err != nil {
			return nil, fmt.Errorf("sealnet network: %w", err)
		}
		o.progress("ours: signing %d Subfile transactions", int(o.Duration.Seconds()*maxNetRate))
		txs, err := ours.sign(int(o.Duration.Seconds() * maxNetRate))
		if err == nil {
			res.Ours, err = o.drive(ctx, "ours (sealnet Subfile)", ours, txs)
		}
		if err := errors.Join(err, ours.stop()); err != nil {
			return nil, err
		}
	}
	if o.Only != "ours" {
		kv, err := o.startKV(filepath.Join(dir, "kvstore-sig"), hostBase+o.Validators, ours.chain)
		if err != nil {
			return nil, fmt.Errorf("kvstore network: %w", err)
		}
		n := int(o.Duration.Seconds() * maxNetRate)
		o.progress("kvstore_sig: signing %d transactions", n)
		res.KVStoreSig, err = o.drive(ctx, "kvstore_sig", kv, kv.signKV(n, size))
		if err := errors.Join(err, kv.stop()); err != nil {
			return nil, err
		}
	}
	res.OursTPS, res.KVStoreSigTPS = res.Ours.TPS, res.KVStoreSig.TPS
	if res.KVStoreSigTPS > 0 {
		res.Ratio = res.OursTPS / res.KVStoreSigTPS
	}
	res.P50ms, res.P99ms = res.Ours.P50ms, res.Ours.P99ms
	return res, nil
}

func (o NetworkOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// network is one started network of validator processes.
type network struct {
	chain   node.ChannelConfig // validator 1's channel settings (both networks run these)
	channel string
	procs   []*proc
	clients []*apiclient.Client
	addrs   []string
	ops     string // validator 1's operations listener, sealnet only
	homes   []string
	opsAll  []string
	sign    func(n int) ([][][]byte, error)
	// kvstore only
	key *ecdsa.PrivateKey
}

func (n *network) stop() error {
	var errs []error
	for _, p := range n.procs {
		errs = append(errs, p.stop())
	}
	return errors.Join(errs...)
}

// writeOurs writes the homes of an N-org testnet, one validator per org.
func (o NetworkOptions) writeOurs(dir string, hostBase int) (*network, error) {
	ports, err := local.FreePorts(fmt.Sprintf("127.0.0.%d", hostBase+1), 4)
	if err != nil {
		return nil, err
	}
	homes, err := node.Testnet(node.TestnetOptions{Orgs: o.Validators, Out: dir, Channel: "default", HostBase: hostBase,
		P2PPort: ports[0], APIPort: ports[1], LibP2P: ports[2], OpsPort: ports[3], TimeoutCommit: o.TimeoutCommit})
	if err != nil {
		return nil, err
	}
	n := &network{channel: "default"}
	var admins []*identity.Identity
	for i, tn := range homes {
		cfg, err := tn.Home.LoadConfig()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			n.chain, n.ops = cfg.Channels[0], cfg.API.OpsListen
			if o.Profile != "" {
				cfg.API.OpsPprof = true
				if err := tn.Home.SaveConfig(cfg); err != nil {
					return nil, err
				}
			}
		}
		admin, err := identity.LoadIdentity(tn.Home.Keys(), "admin")
		if err != nil {
			return nil, err
		}
		root, err := identity.LoadRoot(tn.Home.Root())
		if err != nil {
			return nil, err
		}
		c, err := apiclient.New(cfg.API.Listen, admin, root)
		if err != nil {
			return nil, err
		}
		admins = append(admins, admin)
		n.homes, n.opsAll = append(n.homes, string(tn.Home)), append(n.opsAll, cfg.API.OpsListen)
		n.clients, n.addrs = append(n.clients, c), append(n.addrs, cfg.API.Listen)
	}
	n.sign = func(total int) ([][][]byte, error) {
		out := make([][][]byte, len(admins))
		for i, id := range admins {
			txs, err := signSubfiles(id, (total+len(admins)-1)/len(admins))
			if err != nil {
				return nil, err
			}
			out[i] = txs
		}
		return out, nil
	}
	return n, nil
}

// start runs 'sealnet up' for each home and waits until all are ready.
func (o NetworkOptions) start(n *network) error {
	o.progress("ours: starting %d validators (sealnet up)", len(n.homes))
	for _, h := range n.homes {
		p, err := startProc(o.Binary, filepath.Join(h, "node.log"), "up", "--home", h)
		if err != nil {
			n.stop()
			return err
		}
		n.procs = append(n.procs, p)
	}
	for i := range n.homes {
		if err := waitReady(n.opsAll[i], n.procs[i], 90*time.Second); err != nil {
			n.stop()
			return fmt.Errorf("validator %d: %w", i+1, err)
		}
	}
	return nil
}

// waitReady polls a sealnet node's /readyz until it answers ready.
func waitReady(ops string, p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	cl := http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("exited: see %s", p.log)
		}
		resp, err := cl.Get("http://" + ops + "/readyz")
		if err == nil {
			var r apiclient.Readiness
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if r.Ready {
				return nil
			}
			last = fmt.Sprint(r.Checks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %s", d, last)
}

// startKV writes the homes of N baseline validators with the channel
// settings of the sealnet network and starts 'sealnet bench kvnode' for
// each.
func (o NetworkOptions) startKV(dir string, hostBase int, chain node.ChannelConfig) (*network, error) {
	key, err := identity.NewKey()
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	certPEM, err := writeKVCert(dir)
	if err != nil {
		return nil, err
	}
	ports, err := local.FreePorts(fmt.Sprintf("127.0.0.%d", hostBase+1), 2)
	if err != nil {
		return nil, err
	}
	n := &network{chain: chain, channel: "bench", key: key}
	var vals []cmttypes.GenesisValidator
	var peers, homes []string
	for i := range o.Validators {
		home := filepath.Join(dir, fmt.Sprintf("kv%d", i+1))
		val, id, err := node.NewValidator(home, fmt.Sprintf("kv%d", i+1))
		if err != nil {
			return nil, err
		}
		host := fmt.Sprintf("127.0.0.%d", hostBase+1+i)
		vals, homes = append(vals, val), append(homes, home)
		peers = append(peers, fmt.Sprintf("%s@%s:%d", id, host, ports[0]))
		n.addrs = append(n.addrs, fmt.Sprintf("%s:%d", host, ports[1]))
	}
	g := &cmttypes.GenesisDoc{ChainID: "bench", GenesisTime: time.Now(), InitialHeight: 1,
		ConsensusParams: cmttypes.DefaultConsensusParams(), Validators: vals}
	if err := g.ValidateAndComplete(); err != nil {
		return nil, err
	}
	for i, home := range homes {
		if err := node.WriteGenesis(home, g); err != nil {
			return nil, err
		}
		var others []string
		for j, p := range peers {
			if j != i {
				others = append(others, p)
			}
		}
		cfg := KVNodeConfig{P2PListen: "tcp://" + strings.SplitN(peers[i], "@", 2)[1], PersistentPeers: strings.Join(others, ","),
			TimeoutCommitMS: chain.TimeoutCommitMS, EmptyBlocksS: chain.EmptyBlocksS, MempoolSize: chain.MempoolSize,
			APIListen: n.addrs[i], PublicKey: pub}
		raw, _ := json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(home, kvNodeFile), raw, 0o600); err != nil {
			return nil, err
		}
		for _, f := range []string{kvNodeCert, kvNodeKey} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(home, f), b, 0o600); err != nil {
				return nil, err
			}
		}
		c, err := kvNodeClient(n.addrs[i], certPEM)
		if err != nil {
			return nil, err
		}
		n.clients = append(n.clients, c)
	}
	o.progress("kvstore_sig: starting %d validators (sealnet bench kvnode)", o.Validators)
	for _, home := range homes {
		p, err := startProc(o.Binary, filepath.Join(home, "node.log"), "bench", "kvnode", "--dir", home)
		if err != nil {
			n.stop()
			return nil, err
		}
		n.procs = append(n.procs, p)
	}
	for i, c := range n.clients {
		if err := waitPeers(c, n.procs[i], o.Validators-1, 90*time.Second); err != nil {
			n.stop()
			return nil, fmt.Errorf("baseline validator %d: %w", i+1, err)
		}
	}
	return n, nil
}

// signKV makes total baseline transactions of size bytes, dealt round robin
// to the validators.
func (n *network) signKV(total, size int) [][][]byte {
	all := kvTransactions(total, size, n.key)
	out := make([][][]byte, len(n.clients))
	for i, tx := range all {
		out[i%len(out)] = append(out[i%len(out)], tx)
	}
	return out
}

// waitPeers waits until a baseline node has committed a block and sees
// its peers.
func waitPeers(c *apiclient.Client, p *proc, peers int, d time.Duration) error {
	deadline := time.Now().Add(d)
	last := "no answer"
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("exited: see %s", p.log)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err == nil && len(st.Channels) == 1 {
			if st.Channels[0].Height >= 1 && st.Channels[0].Peers >= peers {
				return nil
			}
			last = fmt.Sprintf("height %d, %d peers", st.Channels[0].Height, st.Channels[0].Peers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not up within %s: %s", d, last)
}

// writeKVCert writes a self-signed TLS certificate and key for the
// baseline nodes into dir and returns the certificate's PEM.
func writeKVCert(dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := identity.NewKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kvstore"}, DNSNames: []string{"kvstore"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, kvNodeCert), "CERTIFICATE", der); err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, kvNodeKey), "EC PRIVATE KEY", kder); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, kvNodeCert))
}
