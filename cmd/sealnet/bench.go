package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/bench"
)

func benchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Benchmarks that print sealnet beside a baseline from the same run"}
	var d time.Duration
	var clients int
	var cpuProfile, only string
	ledgerCmd := &cobra.Command{
		Use:   "ledger [--duration D --clients N --json]",
		Short: "Committed Subfile tx/s and latency vs. CometBFT's kvstore with and without one signature check",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			var progress io.Writer = os.Stderr
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
	ledgerCmd.Flags().IntVar(&clients, "clients", 2000, "concurrent submitters, each waiting for its commit")
	c.AddCommand(ledgerCmd, benchShareCmd(g), benchDCMBCmd(g), benchComputeCmd(g), benchPaychCmd(g))
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
