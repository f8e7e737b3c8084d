package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/bench"
	"github.com/sealnet/sealnet/node"
)

func benchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Benchmarks that print sealnet beside a baseline from the same run"}
	var d, timeoutCommit time.Duration
	var clients, validators, batch int
	var cpuProfile, only, profileDir string
	ledgerCmd := &cobra.Command{
		Use:   "ledger [--validators N] [--duration D --clients N --json]",
		Short: "Committed Subfile tx/s and latency vs. CometBFT's kvstore with and without one signature check",
		Long: `Without --validators, one validator of each kind runs inside this process.
With --validators N, each network is N validator processes on 127.0.0.x:
'sealnet up' on the homes of an N-org testnet, then as many CometBFT
validators running the kvstore that verifies one P-256 signature per
transaction ('sealnet bench kvnode'), with the same settings; one load
generator sends both batches of signed transactions (POST .../txs/batch),
spread evenly over the validators.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			var progress io.Writer = os.Stderr
			if validators > 0 {
				if !cmd.Flags().Changed("clients") {
					clients = 2 * validators
				}
				return benchNetwork(ctx, g, bench.NetworkOptions{Validators: validators, Duration: d, Clients: clients, Batch: batch,
					TimeoutCommit: timeoutCommit, Profile: profileDir, Only: only, Progress: progress})
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			r, err := bench.Ledger(ctx, bench.LedgerOptions{Duration: d, Clients: clients, Progress: progress, Only: only})
			if err != nil {
				return err
			}
			fmt.Printf("\n%-26s %10s %10s %10s %9s %9s\n", "target", "tx/s", "committed", "tx bytes", "p50 ms", "p99 ms")
			for _, t := range []bench.Target{r.Ours, r.KVStore, r.KVStoreSig} {
				fmt.Printf("%-26s %10.0f %10d %10d %9.1f %9.1f\n", t.Name, t.TPS, t.Committed, t.TxBytes, t.P50ms, t.P99ms)
			}
			fmt.Printf("ratio ours / kvstore_sig: %.2f  (clients %d, %s each, timeout_commit %s, mempool %d, GOMAXPROCS %d)\n",
				r.Ratio, r.Clients, d, r.TimeoutCommit, r.MempoolSize, r.GOMAXPROCS)
			if g.json {
				return printJSON(r)
			}
			return nil
		},
	}
	ledgerCmd.Flags().DurationVar(&d, "duration", 10*time.Second, "measuring time per target (at most 45s)")
	ledgerCmd.Flags().StringVar(&only, "only", "", "run one target: ours, kvstore or kvstore_sig (no ratio then)")
	ledgerCmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	ledgerCmd.Flags().IntVar(&clients, "clients", 2000, "concurrent submitters, each waiting for its commit (with --validators: batch requests in flight, default 2 per validator)")
	ledgerCmd.Flags().IntVar(&validators, "validators", 0, "run each network as this many validator processes (0: one validator in this process)")
	ledgerCmd.Flags().IntVar(&batch, "batch", 250, "with --validators: transactions per request")
	ledgerCmd.Flags().DurationVar(&timeoutCommit, "timeout-commit", node.TestnetTimeoutCommit, "with --validators: pause after each commit, both networks")
	ledgerCmd.Flags().StringVar(&profileDir, "profile", "", "with --validators: write a CPU profile of validator 1 of each network into this directory")
	c.AddCommand(ledgerCmd, benchShareCmd(g), benchDCMBCmd(g), benchComputeCmd(g), benchPaychCmd(g), benchKVNodeCmd())
	return c
}

// benchNetwork runs the network ledger benchmark and prints it.
func benchNetwork(ctx context.Context, g *globals, o bench.NetworkOptions) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	o.Binary = bin
	r, err := bench.Network(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("\n%d validators per network, %d batch requests of %d in flight, %s each, timeout_commit %s, mempool %d, %d CPUs\n",
		r.Validators, r.Clients, r.Batch, o.Duration, r.TimeoutCommit, r.MempoolSize, r.NumCPU)
	fmt.Printf("%-24s %8s %10s %8s %8s %8s %9s %13s %10s %12s\n", "network", "tx/s", "committed", "p50 ms", "p99 ms", "tx/block", "tx bytes", "CPU user+sys", "µs/tx", "load avg")
	for _, t := range []bench.NetTarget{r.Ours, r.KVStoreSig} {
		if t.Name == "" {
			continue
		}
		fmt.Printf("%-24s %8.0f %10d %8.0f %8.0f %8.0f %9d %6.1f+%-6.1f %10.0f %5.2f->%-5.2f\n", t.Name, t.TPS, t.Committed, t.P50ms, t.P99ms,
			t.TxPerBlock, t.TxBytes, t.CPU.UserS, t.CPU.SysS, t.CPUPerTxUs, t.LoadAvg[0], t.LoadAvg[1])
		for i, nl := range t.Nodes {
			fmt.Printf("    validator %d %-21s %6d requests %8d committed %5d rejected  CPU %.1f+%.1f s\n", i+1, nl.Addr, nl.Requests, nl.Committed, nl.Rejected, nl.CPU.UserS, nl.CPU.SysS)
		}
		if t.Profile != "" {
			fmt.Printf("    CPU profile of validator 1: %s\n", t.Profile)
		}
	}
	fmt.Printf("ratio ours / kvstore_sig: %.2f\n", r.Ratio)
	if g.json {
		return printJSON(r)
	}
	return nil
}

// benchKVNodeCmd runs one baseline validator of the network benchmark.
func benchKVNodeCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:    "kvnode --dir DIR",
		Short:  "Run a CometBFT validator with the signature-checking kvstore (the network benchmark's baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			return bench.RunKVNode(ctx, dir, log)
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "the node's directory, written by the benchmark")
	c.MarkFlagRequired("dir")
	return c
}

func benchShareCmd(g *globals) *cobra.Command {
	o := bench.ShareOptions{}
	var cpuProfile string
	c := &cobra.Command{
		Use:   "share [--json]",
		Short: "File put/get between two companies' nodes vs. Kubo (add, bitswap) and a TCP copy; Subfile and Querfile tx/s",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if o.Kubo == "" {
				o.Kubo = os.Getenv("SEALNET_KUBO")
			}
			if o.Kubo == "" {
				fmt.Fprintln(os.Stderr, "sealnet: no Kubo binary (--kubo or SEALNET_KUBO; 'bash scripts/kubo.sh' builds one): the Kubo baseline is skipped")
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			o.Progress = os.Stderr
			r, err := bench.Share(ctx, o)
			if err != nil {
				return err
			}
			fmt.Printf("\n1 MB put %.1f ms, get %.1f ms (median of %d; paper 002: 110 ms put) | Kubo add %.1f ms, bitswap get %.1f ms\n",
				r.Put1MBms, r.Get1MBms, o.Repeat, r.KuboAdd1MBms, r.KuboGet1MBms)
			if r.SmallFiles > 0 {
				fmt.Printf("%d files of %d bytes: sealnet %.0f files/s (encrypted, stored, keys handed over, indexed in %d blocks) | Kubo add -r %.0f files/s\n",
					r.SmallFiles, r.SmallSize, r.SmallFilesPerS, r.SmallFilesBlocks, r.KuboSmallFilesPerS)
			}
			fmt.Printf("load average at the start: %.2f\n", r.LoadAvg)
			fmt.Printf("\n%6s %10s %10s %10s %10s %10s %12s\n", "MB", "put MB/s", "get MB/s", "kubo add", "kubo get", "tcp MB/s", "paper 002 s")
			for _, s := range r.Sizes {
				fmt.Printf("%6d %10.1f %10.1f %10.1f %10.1f %10.1f %12.2f\n", s.MB, s.Put, s.Get, s.KuboAdd, s.KuboGet, s.TCP, s.PaperSec)
			}
			if r.PeakRSSMB1GB > 0 {
				fmt.Printf("1 GB: put %.1f MB/s, get %.1f MB/s, peak RSS of the process (two nodes and the client) %.0f MB\n", r.Put1GB, r.Get1GB, r.PeakRSSMB1GB)
			}
			fmt.Printf("Subfile %.0f tx/s, Querfile %.0f tx/s (paper 002 on Fabric 1.4: ~50 and ~110)\n", r.SubfileTPS, r.QuerfileTPS)
			if g.json {
				return printJSON(r)
			}
			return nil
		},
	}
	c.Flags().IntSliceVar(&o.SizesMB, "sizes", []int{1, 5, 10, 50, 100}, "file sizes in MB")
	c.Flags().StringVar(&o.Kubo, "kubo", "", "reference Kubo binary (default $SEALNET_KUBO)")
	c.Flags().Float64Var(&o.TxSecs, "tx-seconds", 3, "seconds per Subfile and Querfile rate run")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	c.Flags().BoolVar(&o.GiB, "gib", false, "also move a 1 GB file and report peak memory")
	c.Flags().IntVar(&o.Repeat, "repeat", 7, "1 MB puts and gets whose medians are reported")
	c.Flags().IntVar(&o.SmallFiles, "small-files", 10000, "small files put at once (0: none)")
	c.Flags().IntVar(&o.SmallSize, "small-size", 4096, "bytes per small file")
	return c
}

func benchDCMBCmd(g *globals) *cobra.Command {
	o := bench.DCMBOptions{}
	c := &cobra.Command{
		Use:   "dcmb [--json]",
		Short: "DCMB messages/s delivered, verified and anchored between two companies' nodes vs. the same messages through Mosquitto",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			o.Progress = os.Stderr
			r, err := bench.DCMB(ctx, o)
			if err != nil {
				return err
			}
			fmt.Printf("\n%d B messages, interval %.0f ms, GOMAXPROCS %d\n", r.Size, r.IntervalMs, r.GOMAXPROCS)
			fmt.Printf("%-52s %9.0f msgs/s  (%d messages offered at once, %.1f s)\n", "sealnet DCMB: delivered, verified and anchored", r.MsgsPerS, r.Messages, r.Seconds)
			fmt.Printf("%-52s %9.0f msgs/s  (the same messages, %d lost; %s)\n", "Mosquitto QoS 0: published and received", r.MosquittoMsgsPerS, r.MosquittoLost, r.MosquittoVersion)
			fmt.Printf("%-52s %9.0f msgs/s\n", "sealnet DCMB with a threshold rule (uncertified)", r.RulesMsgsPerS)
			if r.ModuleMsgsPerS > 0 {
				fmt.Printf("%-52s %9.0f msgs/s  (steady %d offered: %.0f, anchoring p99 %.0f ms)\n", "sealnet DCMB with the certified maintenance module", r.ModuleMsgsPerS,
					r.SteadyRate, r.ModuleSteadyMsgsPerS, r.ModuleAnchorP99Ms)
				fmt.Printf("the module alone: %.1f ms an instance (one per batch), %.1f ms for a %d-message batch\n", r.ModuleInstanceMs, r.ModuleBatchMs, r.ModuleBatch)
			}
			fmt.Printf("steady %d msgs/s offered: %.0f delivered and anchored per second; anchor committed after the interval's end in p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
				r.SteadyRate, r.SteadyMsgsPerS, r.AnchorP50Ms, r.AnchorLatencyMs, r.AnchorMaxMs)
			fmt.Printf("chain transactions: %d for %d batches, %.1f per million messages\n", r.Txs, r.Batches, r.TxPerMillionMsgs)
			fmt.Printf("commitment of a %d-message batch: sealed %.1f ms, paper (Argon2id) %.1f ms\n", r.CommitBatch, r.SealedCommitMs, r.PaperCommitMs)
			if g.json {
				return printJSON(r)
			}
			return nil
		},
	}
	c.Flags().IntVar(&o.Messages, "messages", 1_000_000, "messages of the capacity run, offered at once")
	c.Flags().IntVar(&o.Rate, "rate", 50_000, "messages per second of the steady run")
	c.Flags().DurationVar(&o.Steady, "steady", 10*time.Second, "length of the steady run")
	c.Flags().IntVar(&o.Size, "size", 256, "bytes per message")
	c.Flags().DurationVar(&o.Interval, "interval", time.Second, "anchoring interval")
	c.Flags().StringVar(&o.Mosquitto, "mosquitto", "", "Mosquitto broker binary (default: on PATH or /usr/sbin/mosquitto)")
	c.Flags().BoolVar(&o.NoModule, "no-module", false, "skip the certified stream's runs (they build the module with the go command)")
	return c
}
