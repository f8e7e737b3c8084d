package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/sandbox"
	"github.com/sealnet/sealnet/worker"
)

func workerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "worker", Short: "Lend this machine to other companies' compute jobs (paper 004)"}
	c.AddCommand(workerRunCmd(g), workerExecCmd())
	return c
}

func workerRunCmd(g *globals) *cobra.Command {
	var memory, maxMemory, isolate, attester, cacheDir string
	var programs []string
	var p worker.Policy
	var cores int
	var maxWall time.Duration
	c := &cobra.Command{
		Use:   "run --identity WORKER [--cores N] [--memory SIZE] [--attester software|tsm] [--isolate process|none]",
		Short: "Claim the open jobs the policy accepts, attest, run them, submit encrypted results (until Ctrl-C)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			id, cl, err := g.signerAndClient()
			if err != nil {
				return err
			}
			mem, err := parseBytes(memory)
			if err != nil {
				return fmt.Errorf("--memory: %w", err)
			}
			if maxMemory != "" {
				if p.MaxMemoryBytes, err = parseBytes(maxMemory); err != nil {
					return fmt.Errorf("--max-memory: %w", err)
				}
			}
			p.MaxWallTimeMs = uint64(maxWall.Milliseconds())
			for _, h := range programs {
				b, err := hex.DecodeString(h)
				if err != nil || len(b) != 32 {
					return fmt.Errorf("--program %q: want a SHA-256 in hex", h)
				}
				p.Programs = append(p.Programs, b)
			}
			cfg := worker.Config{Client: cl, Identity: id, Channel: g.channel, Policy: p, Cores: cores, MemoryBytes: mem,
				Say: func(line string) { fmt.Println(time.Now().Format("15:04:05.000"), line) },
				Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			switch attester {
			case "software":
				cfg.Kind = attest.KindSoftware
				fmt.Fprintln(os.Stderr, "sealnet: software attestation: this machine's owner can read every job's data; such jobs are", attest.NotConfidential)
			case "tsm":
				tsm := &attest.TSM{}
				cfg.Attester = func(*ecdsa.PrivateKey) attest.Attester { return tsm }
				if cfg.Kind, err = probeTSM(tsm); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--attester %q: want software or tsm", attester)
			}
			if cacheDir == "" {
				cacheDir = filepath.Join(g.home, "worker", "wasm-cache")
			}
			if err := os.MkdirAll(cacheDir, 0o700); err != nil {
				return err
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			switch isolate {
			case "process":
				self, err := os.Executable()
				if err != nil {
					return err
				}
				cfg.Executor = worker.Process{Path: self, Args: []string{"worker", "exec"}, CacheDir: cacheDir}
			case "none":
				rt, err := sandbox.New(ctx, sandbox.Config{CacheDir: cacheDir})
				if err != nil {
					return err
				}
				defer rt.Close(context.Background())
				cfg.Executor = runner.Sandbox{RT: rt}
			default:
				return fmt.Errorf("--isolate %q: want process or none", isolate)
			}
			fmt.Printf("worker %s@%s on channel %s: %d core(s), %d MiB, %s attestation, programs run %s\n", id.Member.ID, id.Member.Org, g.channel,
				max(cores, 1), mem>>20, cfg.Kind, map[string]string{"process": "in a child process killed at the deadline", "none": "in this process"}[isolate])
			return worker.New(cfg).Run(ctx)
		},
	}
	f := c.Flags()
	f.IntVar(&cores, "cores", max(1, runtime.NumCPU()/2), "programs run at once")
	f.StringVar(&memory, "memory", "1GiB", "memory lent: the sum of the running jobs' memory limits")
	f.StringVar(&maxMemory, "max-memory", "", "largest memory limit of a job taken (default: --memory)")
	f.DurationVar(&maxWall, "max-wall-time", 0, "largest wall-time limit of a job taken (default: any)")
	f.Uint64Var(&p.MinPrice, "min-price", 0, "smallest price taken")
	f.StringSliceVar(&p.Requesters, "requester", nil, "take jobs of this org only (repeat)")
	f.StringSliceVar(&p.Modes, "mode", nil, "take jobs of this mode only (repeat)")
	f.StringSliceVar(&programs, "program", nil, "take jobs running the module with this SHA-256 only (repeat)")
	f.StringVar(&attester, "attester", "software", "software (development, NOT CONFIDENTIAL) or tsm (TDX or SEV-SNP guest, through configfs-tsm)")
	f.StringVar(&isolate, "isolate", "process", "process: each program in a child process killed at its deadline (faster code); none: in this process")
	f.StringVar(&cacheDir, "cache", "", "compiled programs (private to the worker; default HOME/worker/wasm-cache)")
	return c
}

// probeTSM finds which TEE this is, before any job is claimed, by making
// one report through configfs-tsm (for no claim).
func probeTSM(tsm *attest.TSM) (attest.Kind, error) {
	ev, err := tsm.Attest(attest.Binding{Chain: "probe"})
	if err != nil {
		return "", fmt.Errorf("--attester tsm: %w", err)
	}
	return ev.Kind, nil
}

func workerExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "exec",
		Short:  "Run one program for 'worker run' (a child process; task on stdin, result on stdout)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return worker.ServeChild(os.Stdin, os.Stdout)
		},
	}
}
