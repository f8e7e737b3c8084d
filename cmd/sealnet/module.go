package main

// sealnet module: the certification of DCMB modules (paper 000, 3.3) from
// a member's or certifier's machine: the channel's policy, proposing a
// module built with the recipe, revoking and reading the state; a
// certifier's build, verify and vote are in module_certifier.go. Builds
// and validations run here; the chain is reached through the node's API.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/certify/certifier"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/dcmb/modules"
	"github.com/sealnet/sealnet/sandbox"
)

func moduleCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "module", Short: "Certify DCMB modules: policy, propose, build, verify, vote, status, revoke"}
	c.AddCommand(modulePolicyCmd(g), moduleSourceCmd(g), moduleProposeCmd(g), moduleBuildCmd(g), moduleVerifyCmd(g),
		moduleVoteCmd(g), moduleStatusCmd(g), moduleRevokeCmd(g))
	return c
}

// parseRef reads NAME@VERSION.
func parseRef(s string) (string, uint64, error) {
	name, v, ok := strings.Cut(s, "@")
	n, err := strconv.ParseUint(v, 10, 64)
	if !ok || err != nil || n == 0 {
		return "", 0, fmt.Errorf("module %q: want NAME@VERSION, like maintenance@1", s)
	}
	return name, n, nil
}

// withProposal reads a proposed module's record and its proposal through
// the node's API and calls fn with them, within --timeout.
func (g *globals) withProposal(name string, version uint64, fn func(ctx context.Context, rec *certify.Module, p *manifest.Proposal) error) error {
	return g.withClient(func(ctx context.Context, c *apiclient.Client) error {
		rec, err := apiclient.Query[certify.Module](ctx, c, g.channel, certify.Name, "module", certify.ModuleQuery{Name: name, Version: version})
		if err != nil {
			return err
		}
		p, err := certifier.ProposalOf(&rec)
		if err != nil {
			return err
		}
		return fn(ctx, &rec, p)
	})
}

func newSandbox(ctx context.Context) (*sandbox.Runtime, error) {
	return sandbox.New(ctx, sandbox.Config{})
}

// scratchDir makes a temporary directory for a module build.
func scratchDir() (string, error) { return os.MkdirTemp("", "sealnet-module-") }

// workspace is what building and running a module takes: a WebAssembly
// runtime and a scratch directory.
type workspace struct {
	rt  *sandbox.Runtime
	dir string
}

// openWorkspace starts the runtime and makes the directory; close
// releases both.
func openWorkspace(ctx context.Context) (*workspace, error) {
	rt, err := newSandbox(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := scratchDir()
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &workspace{rt: rt, dir: dir}, nil
}

func (w *workspace) close(ctx context.Context) {
	os.RemoveAll(w.dir)
	w.rt.Close(ctx)
}

// writeModuleFile writes data to path, or where path is empty to
// NAME-VERSION followed by suffix, and returns the path it wrote.
func writeModuleFile(path, name string, version uint64, suffix string, data []byte) (string, error) {
	if path == "" {
		path = fmt.Sprintf("%s-%d%s", name, version, suffix)
	}
	return path, os.WriteFile(path, data, 0o644)
}

func modulePolicyCmd(g *globals) *cobra.Command {
	var p certify.Policy
	var orgs string
	c := &cobra.Command{
		Use:   "policy --certifiers ORG,ORG --threshold M --suspend S [--vote-blocks N --valid-blocks N]",
		Short: "Vote, as an org admin, for the channel's certification policy (adopted by more than half of the orgs); without flags, show it",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return g.withClient(func(ctx context.Context, cl *apiclient.Client) error {
				cur, err := apiclient.Query[certify.AdoptedPolicy](ctx, cl, g.channel, certify.Name, "policy", nil)
				if err != nil && orgs == "" {
					return err
				}
				if orgs == "" {
					return g.report(cur, func() {
						fmt.Printf("policy epoch %d, adopted in block %d by %s: certifiers %s, certify and revoke with %d, suspend with %d; votes for %d blocks, certified for %d blocks\n",
							cur.Epoch, cur.Adopted, strings.Join(cur.Voters, ", "), strings.Join(cur.Certifiers, ", "), cur.Threshold, cur.Suspend, cur.VoteBlocks, cur.ValidBlocks)
					})
				}
				p.Epoch = cur.Epoch + 1
				p.Certifiers = strings.Split(orgs, ",")
				r, err := g.call(certify.Name, "set_policy", p)
				if err != nil {
					return err
				}
				return g.report(r, func() {
					fmt.Printf("voted for policy epoch %d in tx %s at height %d: %s\n", p.Epoch, r.TxID, r.Height, r.Result)
				})
			})
		},
	}
	f := c.Flags()
	f.StringVar(&orgs, "certifiers", "", "certifier orgs, comma-separated in ascending order")
	f.IntVar(&p.Threshold, "threshold", 0, "M: approving orgs that certify, revoking orgs that revoke")
	f.IntVar(&p.Suspend, "suspend", 0, "S <= M: revoking orgs that suspend")
	f.Int64Var(&p.VoteBlocks, "vote-blocks", 1000, "blocks a proposal takes votes for")
	f.Int64Var(&p.ValidBlocks, "valid-blocks", 1_000_000, "blocks a certification lasts")
	return c
}

func moduleSourceCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "source DIR",
		Short: "Write the source tree of sealnet's DCMB modules (abi, maintenance) as certifiers receive it",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if entries, _ := os.ReadDir(args[0]); len(entries) > 0 {
				return fmt.Errorf("%s is not empty", args[0])
			}
			if err := modules.WriteSource(args[0]); err != nil {
				return err
			}
			h, err := manifest.HashSource(os.DirFS(args[0]))
			if err != nil {
				return err
			}
			fmt.Printf("wrote %s: source tree %s; packages %s\n", args[0], h, modules.Maintenance)
			return nil
		},
	}
}

func moduleProposeCmd(g *globals) *cobra.Command {
	var src, pkg, purpose, out string
	var outputs []string
	c := &cobra.Command{
		Use:   "propose NAME@VERSION --source DIR --package ./PKG --purpose P --output NAME [-o FILE]",
		Short: "Build a module from its source tree with sealnet's recipe and propose it to the channel's certifiers for a purpose",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, version, err := parseRef(args[0])
			if err != nil {
				return err
			}
			if src == "" || pkg == "" || purpose == "" {
				return errors.New("--source, --package and --purpose are required")
			}
			ctx, cancel := g.ctx()
			defer cancel()
			w, err := openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer w.close(ctx)
			p := &manifest.Proposal{Descriptor: manifest.Descriptor{Name: name, Version: version, Outputs: outputs}, Channel: g.channel, Purpose: purpose}
			wasm, err := certifier.Describe(ctx, w.rt, src, pkg, w.dir, &p.Descriptor)
			if err != nil {
				return err
			}
			if err := p.Validate(); err != nil {
				return err
			}
			if out, err = writeModuleFile(out, name, version, ".wasm", wasm); err != nil {
				return err
			}
			r, err := g.call(certify.Name, "propose", p)
			if err != nil {
				return err
			}
			return g.report(map[string]any{"tx": r, "proposal": p.ID(), "module": hex.EncodeToString(p.Module), "file": out}, func() {
				fmt.Printf("proposed %s@%d for %s in tx %s at height %d\n  proposal %s\n  module   %x (%s, %d bytes)\n  source   %x\n  recipe   %s %s\n  imports  %s\n  outputs  %s\n",
					name, version, purpose, r.TxID, r.Height, p.ID(), p.Module, out, len(wasm), p.Source, p.Recipe.Toolchain, p.Recipe.Package,
					strings.Join(p.Imports, " "), strings.Join(p.Outputs, " "))
			})
		},
	}
	f := c.Flags()
	f.StringVar(&src, "source", "", "the module's source tree (what certifiers receive: the tree alone, no build outputs)")
	f.StringVar(&pkg, "package", "", "its main package, ./DIR")
	f.StringVar(&purpose, "purpose", "", "what it is certified for (a stream's [stream.module] purpose)")
	f.StringSliceVar(&outputs, "output", nil, "an output it may write (repeat; ascending)")
	f.StringVarP(&out, "out", "o", "", "where to write the module (default NAME-VERSION.wasm)")
	return c
}

func moduleStatusCmd(g *globals) *cobra.Command {
	var hash, purpose string
	var height int64
	c := &cobra.Command{
		Use:   "status [NAME[@VERSION]] | --module HASH --purpose P",
		Short: "Modules and their states, one version's votes and revocations, or whether a module hash is certified for a purpose",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.withClient(func(ctx context.Context, c *apiclient.Client) error {
				if height == 0 {
					st, err := c.Status(ctx)
					if err != nil {
						return err
					}
					for _, ch := range st.Channels {
						if ch.Name == g.channel {
							height = ch.Height + 1
						}
					}
				}
				if hash != "" {
					ans, err := apiclient.Query[certify.Answer](ctx, c, g.channel, certify.Name, "certified",
						certify.CertifiedQuery{Channel: g.channel, Purpose: purpose, Module: hash, Height: height})
					if err != nil {
						return err
					}
					return g.report(ans, func() {
						if ans.Certified {
							fmt.Printf("certified: module %s is %s@%d, certified for %s on %s in block %d\n", ans.Module, ans.Name, ans.Version, purpose, g.channel, height)
						} else {
							fmt.Printf("NOT certified for %s on %s in block %d: %s\n", purpose, g.channel, height, ans.Reason)
						}
					})
				}
				if len(args) == 1 && strings.Contains(args[0], "@") {
					return g.moduleVersion(ctx, c, args[0], height)
				}
				q := certify.ModuleQuery{}
				if len(args) == 1 {
					q.Name = args[0]
				}
				list, err := apiclient.Query[[]certify.Module](ctx, c, g.channel, certify.Name, "modules", q)
				if err != nil {
					return err
				}
				return g.report(list, func() {
					if len(list) == 0 {
						fmt.Println("no modules proposed on this channel")
					}
					for _, m := range list {
						fmt.Printf("%-24s %-10s %-12s module %.16s  proposed by %s in block %d\n", fmt.Sprintf("%s@%d", m.Name, m.Version), m.State, m.Purpose, m.Module, m.Org, m.Proposed)
					}
				})
			})
		},
	}
	c.Flags().StringVar(&hash, "module", "", "a module's SHA-256: is it certified for --purpose?")
	c.Flags().StringVar(&purpose, "purpose", "", "the purpose to ask about (with --module)")
	c.Flags().Int64Var(&height, "height", 0, "the block to ask about (default: the next)")
	return c
}

// moduleVersion shows one version: its record, history, votes and
// revocation votes.
func (g *globals) moduleVersion(ctx context.Context, c *apiclient.Client, ref string, height int64) error {
	name, version, err := parseRef(ref)
	if err != nil {
		return err
	}
	q := certify.ModuleQuery{Name: name, Version: version}
	m, err := apiclient.Query[certify.Module](ctx, c, g.channel, certify.Name, "module", q)
	if err != nil {
		return err
	}
	votes, err := apiclient.Query[[]certify.VoteRecord](ctx, c, g.channel, certify.Name, "votes", q)
	if err != nil {
		return err
	}
	revs, err := apiclient.Query[[]certify.RevokeVote](ctx, c, g.channel, certify.Name, "revocations", q)
	if err != nil {
		return err
	}
	return g.report(map[string]any{"module": m, "votes": votes, "revocations": revs, "state_at": m.StateAt(height), "height": height}, func() {
		fmt.Printf("%s@%d: %s (in block %d: %s), for %s on %s\n", m.Name, m.Version, m.State, height, m.StateAt(height), m.Purpose, m.Channel)
		fmt.Printf("  module %s\n  source %s\n  recipe %s %s\n  proposal %s by %s (%s) in block %d; votes through block %d; threshold %d of %s\n",
			m.Module, m.Source, m.Recipe.Toolchain, m.Recipe.Package, m.ID, m.Org, m.Proposer[:16], m.Proposed, m.Deadline, m.Threshold, strings.Join(m.Certifiers, ", "))
		for _, t := range m.History {
			fmt.Printf("  block %-6d %-10s %s\n", t.Height, t.State, t.Reason)
		}
		for _, v := range votes {
			fmt.Printf("  vote  %s in block %d: %s (build %s, validation %s, log %.16s)\n", v.Org, v.Height, v.Verdict, v.Build, v.Validation, v.Log)
		}
		for _, r := range revs {
			fmt.Printf("  revoke %s in block %d: %s\n", r.Org, r.Height, r.Reason)
		}
	})
}

func moduleRevokeCmd(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "revoke NAME@VERSION --reason TEXT",
		Short: "Vote, as a certifier, to revoke a certified module (S orgs suspend it, M revoke it); running streams stop at their next batch",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, version, err := parseRef(args[0])
			if err != nil {
				return err
			}
			if reason == "" {
				return errors.New("--reason is required")
			}
			var rec *certify.Module
			err = g.withProposal(name, version, func(_ context.Context, m *certify.Module, _ *manifest.Proposal) error {
				rec = m
				return nil
			})
			if err != nil {
				return err
			}
			mod, _ := hex.DecodeString(rec.Module)
			r, err := g.call(certify.Name, "revoke", certify.RevokeArgs{Name: name, Version: version, Module: mod, Reason: reason})
			if err != nil {
				return err
			}
			return g.report(r, func() {
				fmt.Printf("revocation vote on %s@%d in tx %s at height %d: %s\n", name, version, r.TxID, r.Height, r.Result)
			})
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (on chain, at most 140 bytes)")
	return c
}
