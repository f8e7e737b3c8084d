package main

// sealnet module build, verify and vote: what a certifier does on its own
// machine, rebuilding and validating a proposed module, and the vote that
// reports what it found.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/certify/certifier"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/sandbox"
)

func moduleBuildCmd(g *globals) *cobra.Command {
	var src, out string
	c := &cobra.Command{
		Use:   "build NAME@VERSION --source DIR [-o FILE]",
		Short: "Rebuild a proposed module from its source tree with the recipe its proposal records, and compare hashes",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, version, err := parseRef(args[0])
			if err != nil {
				return err
			}
			return g.withProposal(name, version, func(ctx context.Context, _ *certify.Module, p *manifest.Proposal) error {
				dir, err := scratchDir()
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				rb, err := certifier.Rebuild(ctx, src, p, dir)
				if err != nil {
					return err
				}
				if rb.Wasm != nil {
					if out, err = writeModuleFile(out, name, version, ".wasm", rb.Wasm); err != nil {
						return err
					}
				}
				return g.report(map[string]any{"build": rb.Build, "rebuilt": rb.Hash, "proposed": hex.EncodeToString(p.Module), "reason": rb.Reason, "file": out}, func() {
					switch rb.Build {
					case manifest.BuildReproduced:
						fmt.Printf("reproduced: %s@%d rebuilds to %s, the proposed module (%s)\n", name, version, rb.Hash, out)
					case manifest.BuildDiffers:
						fmt.Printf("differs: %s@%d rebuilds to %s, the proposal names %x (%s)\n", name, version, rb.Hash, p.Module, out)
					default:
						fmt.Printf("fails: %s@%d does not build with its recipe: %s\n", name, version, rb.Reason)
					}
				})
			})
		},
	}
	c.Flags().StringVar(&src, "source", "", "the proposed source tree")
	c.Flags().StringVarP(&out, "out", "o", "", "where to write the rebuilt module (default NAME-VERSION.wasm)")
	return c
}

// testFlags are a certifier's validation inputs.
type testFlags struct {
	tests, secret, log string
	rawAllowed         []string
	memory             uint64
}

func (t *testFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&t.tests, "tests", "", "the validation test set (JSON lines: {\"name\", \"in\": [{\"key\", \"value\"}], \"want\": [{\"index\", \"output\", \"text\"}]})")
	f.StringVar(&t.secret, "secret", "", "the test set's salt secret, 32 bytes hex (made if absent; keep it with the set)")
	f.StringVar(&t.log, "log", "", "where to write the validation log (default NAME-VERSION.validation.log)")
	f.StringSliceVar(&t.rawAllowed, "allow-raw", nil, "an output you judge may carry input values (repeat)")
	f.Uint64Var(&t.memory, "memory-bytes", 0, "memory limit per case (default 256 MiB)")
}

func (t *testFlags) load() (*certifier.TestSet, error) {
	if t.tests == "" || t.secret == "" {
		return nil, errors.New("--tests and --secret are required")
	}
	f, err := os.Open(t.tests)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cases, leaves, err := module.ReadTests(f)
	if err != nil {
		return nil, err
	}
	ts := &certifier.TestSet{Cases: cases, Leaves: leaves, RawAllowed: t.rawAllowed}
	raw, err := os.ReadFile(t.secret)
	if errors.Is(err, os.ErrNotExist) {
		rand.Read(ts.Secret[:])
		return ts, os.WriteFile(t.secret, []byte(hex.EncodeToString(ts.Secret[:])+"\n"), 0o600)
	}
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(b) != len(ts.Secret) {
		return nil, fmt.Errorf("%s: not a 32-byte hex secret", t.secret)
	}
	copy(ts.Secret[:], b)
	return ts, nil
}

// command is a certifier's command on NAME@VERSION with a test set: run
// gets the module's name and version and the loaded set.
func (t *testFlags) command(use, short string, run func(name string, version uint64, ts *certifier.TestSet) error) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, version, err := parseRef(args[0])
			if err != nil {
				return err
			}
			ts, err := t.load()
			if err != nil {
				return err
			}
			return run(name, version, ts)
		},
	}
	t.add(c)
	return c
}

// writeLog writes a validation's log to --log, by default
// NAME-VERSION.validation.log, and returns its path.
func (t *testFlags) writeLog(name string, version uint64, v *module.Validation) (string, error) {
	return writeModuleFile(t.log, name, version, ".validation.log", v.Log)
}

func moduleVerifyCmd(g *globals) *cobra.Command {
	var file string
	var tf testFlags
	c := tf.command("verify NAME@VERSION --module FILE --tests FILE --secret FILE [--log FILE] [--allow-raw OUTPUT]",
		"Validate a proposed module against your test set: values in, outputs out, no input value in any output",
		func(name string, version uint64, ts *certifier.TestSet) error {
			wasm, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			return g.withProposal(name, version, func(ctx context.Context, _ *certify.Module, p *manifest.Proposal) error {
				rt, err := newSandbox(ctx)
				if err != nil {
					return err
				}
				defer rt.Close(ctx)
				prog, err := module.Load(ctx, rt, wasm, &p.Descriptor, sandbox.Limits{MemoryBytes: tf.memory})
				if err != nil {
					return err
				}
				v, err := module.Validate(ctx, prog, ts.Cases, ts.Leaves, ts.Secret, ts.RawAllowed)
				if err != nil {
					return err
				}
				path, err := tf.writeLog(name, version, v)
				if err != nil {
					return err
				}
				g.report(map[string]any{"passed": v.Passed, "failed_cases": v.Failed, "log": path, "log_sha256": v.LogHash, "tests": v.Tests}, func() {
					os.Stdout.Write(v.Log)
					fmt.Printf("log %s, sha256 %s; test-set commitment %s\n", path, v.LogHash, v.Tests)
				})
				if !v.Passed {
					return fmt.Errorf("validation failed: %d of %d cases", v.Failed, len(ts.Cases))
				}
				return nil
			})
		})
	c.Flags().StringVar(&file, "module", "", "the module to validate (a rebuild: sealnet module build)")
	return c
}

func moduleVoteCmd(g *globals) *cobra.Command {
	var src, note string
	var tf testFlags
	c := tf.command("vote NAME@VERSION --source DIR --tests FILE --secret FILE [--log FILE] [--note TEXT]",
		"Examine a proposed module as a certifier (rebuild, compare, validate) and vote what you found",
		func(name string, version uint64, ts *certifier.TestSet) error {
			return g.withProposal(name, version, func(ctx context.Context, _ *certify.Module, p *manifest.Proposal) error {
				w, err := openWorkspace(ctx)
				if err != nil {
					return err
				}
				defer w.close(ctx)
				x, err := certifier.Examine(ctx, w.rt, p, src, w.dir, ts, sandbox.Limits{MemoryBytes: tf.memory}, note)
				if err != nil {
					return err
				}
				logPath := ""
				if x.Validation != nil {
					if logPath, err = tf.writeLog(name, version, x.Validation); err != nil {
						return err
					}
				}
				r, err := g.call(certify.Name, "vote", x.Vote)
				if err != nil {
					return err
				}
				return g.report(map[string]any{"tx": r, "verdict": x.Vote.Verdict(), "build": x.Vote.Build, "validation": x.Vote.Validation, "log": logPath}, func() {
					fmt.Printf("voted %q on %s@%d in tx %s at height %d\n  build      %s", x.Vote.Verdict(), name, version, r.TxID, r.Height, x.Vote.Build)
					if x.Rebuilt.Reason != "" {
						fmt.Printf(": %s", x.Rebuilt.Reason)
					}
					fmt.Println()
					if x.Validation != nil {
						fmt.Printf("  validation %s (%s, sha256 %s; test-set commitment %s)\n", x.Vote.Validation, logPath, x.Validation.LogHash, x.Validation.Tests)
					}
					fmt.Printf("  tally      %s\n", r.Result)
				})
			})
		})
	c.Flags().StringVar(&src, "source", "", "the proposed source tree")
	c.Flags().StringVar(&note, "note", "", "a note on chain with the vote (at most 140 bytes)")
	return c
}
