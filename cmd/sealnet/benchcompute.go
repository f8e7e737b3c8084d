package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/bench"
	"github.com/sealnet/sealnet/compute/programs"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/worker"
)

func benchComputeCmd(g *globals) *cobra.Command {
	o := bench.ComputeOptions{}
	var dir, isolate string
	c := &cobra.Command{
		Use:   "compute [--json]",
		Short: "Compute jobs: post-to-accepted latency, jobs/s, TDX and SNP verifications/s, the sandbox's cost against native code",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			o.Progress = os.Stderr
			if dir != "" {
				o.Programs = map[string][]byte{}
				for _, name := range programs.Names {
					b, err := os.ReadFile(filepath.Join(dir, name+".wasm"))
					if err != nil {
						return err
					}
					o.Programs[name] = b
				}
			}
			switch isolate {
			case "process":
				self, err := os.Executable()
				if err != nil {
					return err
				}
				o.Executor = func(cache string) runner.Executor {
					return worker.Process{Path: self, Args: []string{"worker", "exec"}, CacheDir: cache}
				}
				o.Isolation = "child process per job, deadline checks off (sealnet worker run's default)"
			case "none":
			default:
				return fmt.Errorf("--isolate %q: want process or none", isolate)
			}
			r, err := bench.Compute(ctx, o)
			if err != nil {
				return err
			}
			fmt.Printf("\njob, post to accepted on chain (1 KiB input, software attestation, %s): p50 %.0f ms, p99 %.0f ms  (target p50 <= 2000 ms)\n",
				r.Isolation, r.JobLatencyP50Ms, r.JobLatencyP99Ms)
			fmt.Printf("  p50 from the post to:")
			for _, s := range []string{"posted", "claimed", "attested", "key granted", "result submitted", "decrypted", "accepted"} {
				if v, ok := r.JobStepsMs[s]; ok {
					fmt.Printf(" %s %.0f,", s, v)
				}
			}
			fmt.Printf("\njobs completed per second, %d workers: %.1f\n", r.Workers, r.JobsPerS)
			fmt.Printf("TDX quote verifications/s: %.0f (target >= 1000), SNP report verifications/s: %.0f (target >= 300), GOMAXPROCS %d\n",
				r.TDXVerifyPerS, r.SNPVerifyPerS, r.GOMAXPROCS)
			fmt.Printf("sandbox vs native, %s:\n", "the same Go code on the same 2 series")
			for _, p := range r.Programs {
				fmt.Printf("  %-8s native %7.1f ms  wasm %7.1f ms (%.1fx)  in-process with deadline checks %7.1f ms (%.1fx)  start on no input %.1f ms\n",
					p.Name, p.NativeMs, p.WasmMs, p.Ratio, p.WasmChecks, p.RatioCheck, p.StartMs)
			}
			fmt.Printf("wasm/native (worst program): %.1fx (target <= 3x); compiling the %d-byte stats module: %.0f ms cold, %.1f ms from the cache\n",
				r.WasmNativeRatio, r.ModuleBytes, r.CompileColdMs, r.CompileCachedMs)
			if g.json {
				return printJSON(r)
			}
			return nil
		},
	}
	c.Flags().IntVar(&o.Jobs, "jobs", 20, "jobs posted one after the other for the latency")
	c.Flags().IntVar(&o.Throughput, "throughput-jobs", 24, "jobs posted at once for the rate")
	c.Flags().IntVar(&o.Samples, "samples", 20_000, "samples per series (two series) for the sandbox's cost")
	c.Flags().DurationVar(&o.Attest, "attest-time", 2*time.Second, "time spent verifying each evidence kind")
	c.Flags().StringVar(&dir, "programs", "", "directory with stats.wasm and anomaly.wasm (default: built from the source tree)")
	c.Flags().StringVar(&isolate, "isolate", "process", "process: each job in a child process (as 'worker run'); none: in the workers' process")
	return c
}
