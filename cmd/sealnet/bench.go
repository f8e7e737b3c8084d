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
	c.AddCommand(ledgerCmd)
	return c
}
