package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/requester"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/member"
)

func computeCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "compute", Short: "Compute jobs on other companies' machines, on your encrypted data (paper 004)"}
	c.AddCommand(computePostCmd(g), computeListCmd(g), computeStatusCmd(g), computeResultCmd(g), computeCancelCmd(g))
	return c
}

// resultKeys is where a requester's result keys are kept, one per job.
func (g *globals) resultKeys() string { return filepath.Join(g.home, "compute") }

// marked appends NOT CONFIDENTIAL to a line about a job whose data its
// workers see in clear.
func marked(j *compute.Job, line string) string {
	if strings.HasPrefix(j.Confidentiality, attest.NotConfidential) {
		return line + "  [" + attest.NotConfidential + "]"
	}
	return line
}

func computePostCmd(g *globals) *cobra.Command {
	var program, mode, memory string
	var inputs, lenders, tee, measurements []string
	var wall time.Duration
	var a compute.PostArgs
	var outBytes uint64
	var wait bool
	c := &cobra.Command{
		Use:   "post --program FILE.wasm --input CID [--input CID] [--mode M] [--tee KIND] ...",
		Short: "Store the program, deposit the output salt, post the job; the result key stays in this home",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			id, cl, err := g.signerAndClient()
			if err != nil {
				return err
			}
			wasm, err := os.ReadFile(program)
			if err != nil {
				return err
			}
			mem, err := parseBytes(memory)
			if err != nil {
				return fmt.Errorf("--memory: %w", err)
			}
			a.Mode, a.Lenders = mode, lenders
			a.Limits = compute.Limits{MemoryBytes: mem, WallTimeMs: uint64(wall.Milliseconds()), OutputBytes: outBytes}
			if a.Replicas == 0 {
				a.Replicas = 1
				if mode != compute.ModeAttested {
					a.Replicas = 2
				}
			}
			if mode != compute.ModeRedundant {
				if a.TEE, err = parsePolicy(tee, measurements); err != nil {
					return err
				}
			}
			ctx, cancel := longCtx()
			defer cancel()
			// every input must be this org's, with its key at this node
			for _, in := range inputs {
				if err := ownInput(ctx, cl, g.channel, in, id.Member.Org); err != nil {
					return err
				}
			}
			a.Inputs = inputs
			sum := sha256.Sum256(wasm)
			put, err := member.Put(ctx, cl, id, g.channel, strings.NewReader(string(wasm)), member.Meta{Keywords: []string{"program"},
				Summary: filepath.Base(program), Type: "application/wasm"}, nil)
			if err != nil {
				return fmt.Errorf("store the program: %w", err)
			}
			a.Program = compute.Program{CID: put.CID, SHA256: sum[:]}
			if err := os.MkdirAll(g.resultKeys(), 0o700); err != nil {
				return err
			}
			p, err := requester.Post(ctx, cl, id, g.channel, a, func(job string, k *ecdsa.PrivateKey) error {
				return identity.SaveKey(g.resultKeys(), job, k)
			})
			if err != nil {
				return err
			}
			if g.json && !wait {
				return printJSON(p)
			}
			if !g.json {
				fmt.Printf("posted job %s\n  tx %s at height %d, expires at the end of block %d\n  program %s (sha256 %x), %d input(s), %s mode, %d worker(s)\n  %s\n  result key kept in %s\n",
					p.Job, p.TxID, p.Height, p.Deadline, put.CID, sum[:8], len(inputs), mode, a.Replicas, p.Confidentiality,
					filepath.Join(g.resultKeys(), p.Job))
			}
			if !wait {
				return nil
			}
			j, err := follow(ctx, cl, g.channel, p.Job, os.Stderr)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(j)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&program, "program", "", "the WebAssembly module (scripts/build-programs.sh builds the examples)")
	f.StringSliceVar(&inputs, "input", nil, "CID of an input you stored with 'data put' (repeat for several)")
	f.StringVar(&mode, "mode", compute.ModeAttested, "attested, redundant or attested+redundant")
	f.IntVar(&a.Replicas, "replicas", 0, "workers (1 in attested mode; default 2 when redundant)")
	f.StringSliceVar(&tee, "tee", []string{"tdx", "snp"}, "accepted evidence kinds: tdx, snp, software (software: NOT CONFIDENTIAL)")
	f.StringSliceVar(&measurements, "measurement", nil, "accepted TEE image, KIND:HEX (tdx MRTD or snp launch measurement, 48 bytes)")
	f.StringVar(&memory, "memory", "256MiB", "memory limit of a run")
	f.DurationVar(&wall, "wall-time", time.Minute, "wall-time limit of a run")
	f.Uint64Var(&outBytes, "output-bytes", 1<<20, "output limit of a run, bytes")
	f.Uint64Var(&a.Price, "price", 0, "price per worker")
	f.Int64Var(&a.DeadlineBlocks, "deadline-blocks", 5000, "the job expires this many blocks after its post unless all results are in")
	f.Int64Var(&a.LeaseBlocks, "lease-blocks", 1000, "a claim frees its slot this many blocks after it unless its result is in")
	f.Int64Var(&a.WindowBlocks, "window-blocks", 500, "after the results: blocks to object (attested) or to reveal (redundant)")
	f.StringSliceVar(&lenders, "lender", nil, "an org allowed to lend workers (repeat; default any)")
	f.BoolVar(&wait, "wait", false, "follow the job until it ends")
	c.MarkFlagRequired("program")
	return c
}

// ownInput checks that cid is indexed by org with a custodian, so that
// org's node can release its key.
func ownInput(ctx context.Context, cl *apiclient.Client, channel, cid, org string) error {
	txn, err := resolveEntry(ctx, cl, channel, cid)
	if err != nil {
		return err
	}
	e, err := member.Entry(ctx, cl, channel, txn)
	if err != nil {
		return err
	}
	if e.Holder != org || e.Custodian == "" || e.Purged {
		return fmt.Errorf("input %s is not %s's own stored object (holder %s, purged %v): a job's inputs are released by the requester's custodian", cid, org, e.Holder, e.Purged)
	}
	return nil
}

func parsePolicy(kinds, measurements []string) (attest.Policy, error) {
	var p attest.Policy
	for _, k := range kinds {
		p.Kinds = append(p.Kinds, attest.Kind(strings.TrimSpace(k)))
	}
	for _, m := range measurements {
		k, h, ok := strings.Cut(m, ":")
		v, err := hex.DecodeString(h)
		if !ok || err != nil {
			return p, fmt.Errorf("--measurement %q: want KIND:HEX", m)
		}
		p.Measurements = append(p.Measurements, attest.Measurement{Kind: attest.Kind(k), Value: v})
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("--tee/--measurement: %w", err)
	}
	return p, nil
}

// parseBytes reads 512, 64KiB, 256MiB, 1GiB.
func parseBytes(s string) (uint64, error) {
	units := []struct {
		suffix string
		mul    uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			var v uint64
			if _, err := fmt.Sscanf(n, "%d", &v); err != nil || fmt.Sprint(v) != n {
				return 0, fmt.Errorf("%q: want a number of bytes, KiB, MiB or GiB", s)
			}
			return v * u.mul, nil
		}
	}
	return 0, fmt.Errorf("%q: want a number of bytes, KiB, MiB or GiB", s)
}

// follow prints a job's transitions as they happen until it ends.
func follow(ctx context.Context, cl *apiclient.Client, channel, job string, w io.Writer) (*compute.Job, error) {
	seen, start := 0, time.Now()
	for {
		j, err := requester.Job(ctx, cl, channel, job)
		if err != nil {
			return nil, err
		}
		for _, h := range j.History[min(seen, len(j.History)):] {
			fmt.Fprintln(w, marked(j, fmt.Sprintf("  %6.1fs  block %d  %s: %s", time.Since(start).Seconds(), h.Height, h.State, h.Reason)))
		}
		seen = len(j.History)
		if j.Terminal() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func computeListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Jobs open for workers, and the jobs posted from this home",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return g.withClient(func(ctx context.Context, cl *apiclient.Client) error {
				open, err := apiclient.Query[[]*compute.Job](ctx, cl, g.channel, compute.Name, "open", struct{}{})
				if err != nil {
					return err
				}
				var mine []*compute.Job
				ents, _ := os.ReadDir(g.resultKeys())
				for _, e := range ents {
					if id, ok := strings.CutSuffix(e.Name(), ".key"); ok {
						if j, err := requester.Job(ctx, cl, g.channel, id); err == nil {
							mine = append(mine, j)
						}
					}
				}
				if g.json {
					return printJSON(map[string]any{"open": open, "mine": mine})
				}
				fmt.Printf("open jobs: %d\n", len(open))
				for _, j := range open {
					fmt.Println(marked(j, fmt.Sprintf("  %s  %-18s %d/%d claimed  price %d  of %s  deadline %d", j.ID, j.Mode, len(j.Slots), j.Replicas, j.Price, j.Org, j.Deadline)))
				}
				fmt.Printf("posted from this home: %d\n", len(mine))
				for _, j := range mine {
					fmt.Println(marked(j, fmt.Sprintf("  %s  %-16s %s", j.ID, j.State, j.Reason)))
				}
				return nil
			})
		},
	}
}

func computeStatusCmd(g *globals) *cobra.Command {
	var wait bool
	c := &cobra.Command{
		Use:   "status JOB [--wait]",
		Short: "A job's record: state, workers, attestations, results and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := longCtx()
			defer cancel()
			var j *compute.Job
			if wait {
				j, err = follow(ctx, cl, g.channel, args[0], os.Stderr)
			} else {
				j, err = requester.Job(ctx, cl, g.channel, args[0])
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(j)
			}
			printJob(j)
			return nil
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "follow the job until it ends")
	return c
}

func printJob(j *compute.Job) {
	fmt.Printf("job %s: %s", j.ID, j.State)
	if j.Reason != "" {
		fmt.Printf(" (%s)", j.Reason)
	}
	fmt.Printf("\n  %s\n", j.Confidentiality)
	fmt.Printf("  requester %s of %s, %s mode, %d worker(s), price %d, posted at block %d, deadline %d\n", j.Requester[:16], j.Org, j.Mode, j.Replicas, j.Price, j.Posted, j.Deadline)
	fmt.Printf("  program %s sha256 %x, %d input(s), limits %d MiB, %d ms, %d bytes of output\n", j.Program.CID, j.Program.SHA256[:8], len(j.Inputs), j.Limits.MemoryBytes>>20, j.Limits.WallTimeMs, j.Limits.OutputBytes)
	for i, s := range j.Slots {
		line := fmt.Sprintf("  worker %d: %s of %s, %s", i, s.Worker[:16], s.Org, s.State)
		if s.Attestation != nil {
			line += fmt.Sprintf(", attested %s on %s", s.Attestation.Kind, s.Attestation.Platform)
		}
		if s.Grant != nil {
			line += fmt.Sprintf(", keys granted (%x)", s.Grant[:8])
		}
		if s.ResultCID != "" {
			line += ", result " + s.ResultCID
		}
		if s.Verdict != "" {
			line += ": " + s.Verdict
		}
		fmt.Println(marked(j, line))
	}
	fmt.Println("  history:")
	for _, h := range j.History {
		who := ""
		if h.Worker != "" {
			who = " " + h.Worker[:12]
		}
		fmt.Printf("    block %-6d %-16s%s %s\n", h.Height, h.State, who, h.Reason)
	}
}

func computeResultCmd(g *globals) *cobra.Command {
	var out, reject string
	var accept, wait bool
	c := &cobra.Command{
		Use:   "result JOB [-o FILE] [--wait] [--accept | --reject REASON]",
		Short: "Fetch the job's result, decrypt it with the result key and check it against the chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, cl, err := g.signerAndClient()
			if err != nil {
				return err
			}
			job := args[0]
			key, err := identity.LoadKey(g.resultKeys(), job)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no result key for job %s in %s: only the home that posted the job can open its result", job, g.resultKeys())
			}
			if err != nil {
				return err
			}
			ctx, cancel := longCtx()
			defer cancel()
			if wait {
				if err := waitResult(ctx, cl, g.channel, job); err != nil {
					return err
				}
			}
			res, err := requester.Fetch(ctx, cl, g.channel, job, key)
			if err != nil {
				return err
			}
			j, err := requester.Job(ctx, cl, g.channel, job)
			if err != nil {
				return err
			}
			if out != "" {
				if err := durable.Write(out, 0o600, func(w io.Writer) error { _, err := w.Write(res.Output); return err }); err != nil {
					return err
				}
			}
			var decided *apiclient.TxResponse
			if accept || reject != "" {
				method, a := "accept", any(compute.JobArgs{Job: job})
				if reject != "" {
					method, a = "reject", compute.RejectArgs{Job: job, Reason: reject}
				}
				if decided, err = cl.Call(ctx, id, g.channel, compute.Name, method, a); err == nil && decided.Code != 0 {
					err = fmt.Errorf("%s refused in block %d: %s", method, decided.Height, decided.Error)
				}
				if err != nil {
					return err
				}
			}
			if g.json {
				return printJSON(map[string]any{"result": res, "output": string(res.Output), "decision": decided})
			}
			fmt.Fprintln(os.Stderr, marked(j, fmt.Sprintf("job %s: %s; result %s from the worker of %s (%d bytes), decrypted and matching the commitment %x on chain",
				job, res.State, res.CID, res.WorkerOrg, res.Size, res.Commitment[:8])))
			if res.Attested != "" {
				fmt.Fprintln(os.Stderr, marked(j, "  attested: "+res.Attested))
			}
			if res.Verdict != "" {
				fmt.Fprintln(os.Stderr, "  the chain: "+res.Verdict)
			}
			if decided != nil {
				fmt.Fprintf(os.Stderr, "  %s in block %d (tx %s)\n", map[bool]string{true: "accepted", false: "rejected"}[accept], decided.Height, decided.TxID)
			}
			if out == "" {
				os.Stdout.Write(res.Output)
			} else {
				fmt.Fprintf(os.Stderr, "  wrote %s\n", out)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "write the output here (default: standard output)")
	c.Flags().BoolVar(&wait, "wait", false, "wait for a result, showing the job's progress")
	c.Flags().BoolVar(&accept, "accept", false, "attested mode: accept the result on chain once it checked out")
	c.Flags().StringVar(&reject, "reject", "", "attested mode: object to the result on chain, with this reason")
	return c
}

// waitResult follows the job until it has a result to open or ends
// without one.
func waitResult(ctx context.Context, cl *apiclient.Client, channel, job string) error {
	seen, start := 0, time.Now()
	for {
		j, err := requester.Job(ctx, cl, channel, job)
		if err != nil {
			return err
		}
		for _, h := range j.History[min(seen, len(j.History)):] {
			fmt.Fprintln(os.Stderr, marked(j, fmt.Sprintf("  %6.1fs  block %d  %s: %s", time.Since(start).Seconds(), h.Height, h.State, h.Reason)))
		}
		seen = len(j.History)
		switch {
		case j.Result >= 0, !j.Redundant() && j.State == compute.StateSubmitted:
			return nil
		case j.Terminal():
			return fmt.Errorf("job %s ended %s without a result: %s", job, j.State, j.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func computeCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a job you posted that no worker claimed yet",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			r, err := g.call(compute.Name, "cancel", compute.JobArgs{Job: args[0]})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("cancelled job %s in block %d (tx %s)\n", args[0], r.Height, r.TxID)
			return nil
		},
	}
}
