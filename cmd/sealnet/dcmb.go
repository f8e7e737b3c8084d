package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/durable"
)

func dcmbCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "dcmb", Short: "Paper 000's data communication module: stream machine data with an audit trail"}
	var cfgPath, org string
	run := &cobra.Command{
		Use:   "run --config dcmb.toml",
		Short: "Run the node with the DCMB pipelines and receivers of a configuration file",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := dcmb.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			return runNode(g, org, cfg)
		},
	}
	run.Flags().StringVar(&cfgPath, "config", "dcmb.toml", "DCMB configuration file")
	run.Flags().StringVar(&org, "org", "org1", "organization name if the home is initialized now")
	c.AddCommand(run, trustCmd(g))
	return c
}

// trustCmd lists the OPC UA server certificates the trust list refused,
// and trusts one by its thumbprint.
func trustCmd(g *globals) *cobra.Command {
	var cfgPath, pki, stream string
	cmd := &cobra.Command{
		Use:   "trust [THUMBPRINT] [--config dcmb.toml | --pki DIR]",
		Short: "Show the OPC UA server certificates a source refused, with their thumbprints; trust one by its thumbprint",
		Long: `An OPC UA source trusts a server's certificate only if it is in its trust
list (pki_dir/trusted/certs, or issued by a CA there). An unknown one is
refused and saved in pki_dir/rejected. Without an argument, this lists the
refused certificates; compare a thumbprint with the one the server's
operator reads on the machine, then trust it by its thumbprint (8 or more
hex digits of its SHA-1 or SHA-256). A running source connects within
seconds.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			dir, err := trustDir(g, cfgPath, pki, stream)
			if err != nil {
				return err
			}
			tl := source.TrustList{Dir: dir}
			if len(args) == 1 {
				ci, err := tl.Trust(args[0])
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(ci)
				}
				fmt.Printf("trusted %s\n", ci.Subject)
				printCert(ci)
				return nil
			}
			rejected, err := tl.Rejected()
			if err != nil {
				return err
			}
			trusted, err := tl.Trusted()
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"pki": dir, "rejected": rejected, "trusted": trusted})
			}
			fmt.Printf("trust list %s: %d trusted, %d refused\n", dir, len(trusted), len(rejected))
			for _, ci := range rejected {
				fmt.Printf("\nrefused %s\n", ci.Subject)
				printCert(ci)
				fmt.Printf("  trust it: sealnet dcmb trust --pki %s %s\n", dir, ci.Thumbprint[:16])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "dcmb.toml", "DCMB configuration file whose OPC UA sources' trust list to use")
	cmd.Flags().StringVar(&pki, "pki", "", "trust list folder (default: pki_dir of the configuration's OPC UA source)")
	cmd.Flags().StringVar(&stream, "stream", "", "the stream whose trust list to use, when the configuration's OPC UA sources have several")
	return cmd
}

func printCert(ci source.CertInfo) {
	fmt.Printf("  SHA-1 thumbprint   %s\n  SHA-256            %s\n", ci.Thumbprint, ci.SHA256)
	if ci.URI != "" {
		fmt.Printf("  application URI    %s\n", ci.URI)
	}
	if len(ci.Hosts) > 0 {
		fmt.Printf("  hosts              %s\n", strings.Join(ci.Hosts, ", "))
	}
	fmt.Printf("  valid              %s to %s\n  file               %s\n", ci.NotBefore.UTC().Format(time.DateOnly), ci.NotAfter.UTC().Format(time.DateOnly), ci.Path)
}

// trustDir is the trust list of --pki, else of the configuration's OPC UA
// source (its pki_dir, default <dir>/pki).
func trustDir(g *globals, cfgPath, pki, stream string) (string, error) {
	if pki != "" {
		return pki, nil
	}
	cfg, err := dcmb.LoadConfig(cfgPath)
	if err != nil {
		return "", fmt.Errorf("%w (or give the trust list with --pki)", err)
	}
	base := cfg.Dir
	if base == "" {
		base = filepath.Join(g.home, "dcmb")
	}
	dirs := map[string][]string{}
	for _, s := range cfg.Streams {
		if s.Source.Kind != "opcua" || (stream != "" && s.Name != stream) {
			continue
		}
		d := s.Source.PKIDir
		if d == "" {
			d = filepath.Join(base, "pki")
		}
		dirs[d] = append(dirs[d], s.Name)
	}
	switch len(dirs) {
	case 0:
		if stream != "" {
			return "", fmt.Errorf("%s has no OPC UA stream %q", cfgPath, stream)
		}
		return filepath.Join(base, "pki"), nil
	case 1:
		for d := range dirs {
			return d, nil
		}
	}
	var list []string
	for d, names := range dirs {
		list = append(list, fmt.Sprintf("%s (%s)", d, strings.Join(names, ", ")))
	}
	sort.Strings(list)
	return "", fmt.Errorf("the OPC UA sources of %s use several trust lists: choose one with --stream: %s", cfgPath, strings.Join(list, "; "))
}

func auditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Offline proofs of what a DCMB stream exchanged"}
	var stream, out string
	var seq uint64
	export := &cobra.Command{
		Use:   "export --stream S --seq N -o FILE",
		Short: "Write the self-contained proof bundle of one message (asks the node that sent or received it)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if stream == "" || out == "" {
				return errors.New("--stream and -o are required")
			}
			return g.withClient(func(ctx context.Context, c *apiclient.Client) error {
				raw, err := c.AuditBundle(ctx, g.channel, stream, seq)
				if err != nil {
					return err
				}
				if err := durable.WriteFile(out, raw, 0o644); err != nil {
					return err
				}
				if g.json {
					return printJSON(map[string]any{"file": out, "bytes": len(raw), "stream": stream, "seq": seq})
				}
				fmt.Printf("wrote %s (%d bytes): message %d of stream %s with its proofs\n", out, len(raw), seq, stream)
				return nil
			})
		},
	}
	export.Flags().StringVar(&stream, "stream", "", "stream name")
	export.Flags().Uint64Var(&seq, "seq", 0, "message sequence number")
	export.Flags().StringVarP(&out, "output", "o", "", "bundle file to write")
	var genesis string
	verify := &cobra.Command{
		Use:   "verify BUNDLE --genesis GENESIS.json",
		Short: "Verify a proof bundle against a channel's genesis, without contacting any node",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if genesis == "" {
				genesis = filepath.Join(g.home, "channels", g.channel, "config", "genesis.json")
			}
			gen, err := bundle.LoadGenesis(genesis)
			if err != nil {
				return fmt.Errorf("genesis: %w", err)
			}
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			b, err := bundle.Decode(raw)
			if err != nil {
				return fmt.Errorf("INVALID: %w", err)
			}
			rep, err := bundle.Verify(b, gen)
			if err != nil {
				return fmt.Errorf("INVALID: %w", err)
			}
			if g.json {
				return printJSON(rep)
			}
			fmt.Printf("VALID: stream %s, chain %s, anchored at height %d in tx %s\n", rep.Stream, rep.ChainID, rep.Height, rep.TxID)
			if m := rep.Module; m != nil && m.Name != "" {
				fmt.Printf("processed by module %s@%d (%s) for %s, certified from block %d by %d certifiers' votes\n", m.Name, m.Version, m.Hash, m.Purpose, m.CertifiedAt+1, len(m.Votes))
			}
			for i, s := range rep.Steps {
				fmt.Printf("  %d. %s\n", i+1, s)
			}
			for _, m := range rep.Messages {
				fmt.Printf("  disclosed: seq %d key %q value %q\n", m.Seq, m.Key, m.Value)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&genesis, "genesis", "", "the channel's CometBFT genesis (default: the home's copy)")
	var batches bool
	streamCmd := &cobra.Command{
		Use:   "stream NAME [--batches]",
		Short: "A stream's record on chain: sender, receiver, next sequence, batches, dropped and undelivered messages",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.withClient(func(ctx context.Context, c *apiclient.Client) error {
				st, err := apiclient.Query[audit.Stream](ctx, c, g.channel, audit.Name, "stream", map[string]string{"stream": args[0]})
				if err != nil {
					return err
				}
				var list []audit.Batch
				if batches {
					if list, err = apiclient.Query[[]audit.Batch](ctx, c, g.channel, audit.Name, "batches", map[string]string{"stream": args[0]}); err != nil {
						return err
					}
				}
				if g.json {
					return printJSON(map[string]any{"stream": st, "batches": list})
				}
				fmt.Printf("stream %s: from %s (member %s) to %s; next sequence %d; %d batches; %d messages dropped before anchoring, %d anchored but undelivered\n",
					st.Name, st.Org, st.Sender, st.Receiver, st.Next, st.Batches, st.Dropped, st.Undelivered)
				for _, b := range list {
					switch {
					case b.Dropped != "":
						fmt.Printf("  %d-%d dropped (%s) at height %d\n", b.FirstSeq, b.FirstSeq+b.Count-1, b.Dropped, b.Height)
					default:
						extra := ""
						if b.Undelivered != "" {
							extra = ", undelivered: " + b.Undelivered
						}
						fmt.Printf("  %d-%d %s root %s at height %d tx %s%s\n", b.FirstSeq, b.FirstSeq+b.Count-1, b.Mode, b.Root, b.Height, b.TXNumber, extra)
					}
				}
				return nil
			})
		},
	}
	streamCmd.Flags().BoolVar(&batches, "batches", false, "list every anchored or dropped range")
	c.AddCommand(export, verify, streamCmd)
	return c
}

func conditionCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "condition", Short: "Hashed conditions of the condition contract (paper 000's maintenance contract)"}
	var a condition.RegisterArgs
	var label, salt string
	reg := &cobra.Command{
		Use:   "register --id ID --label LABEL --salt SALT [--importance high] [--sender ORG]",
		Short: "Register hash(label, salt) for your org: a sender's matching hashed label notifies you",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if a.ID == "" || label == "" || salt == "" {
				return errors.New("--id, --label and --salt are required")
			}
			a.Hash = condition.Hash(label, []byte(salt))
			r, err := g.call(condition.Name, "register", a)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("condition %s registered (hash %x) in tx %s at height %d; the label and salt stay with you\n", a.ID, a.Hash, r.TxID, r.Height)
			return nil
		},
	}
	reg.Flags().StringVar(&a.ID, "id", "", "condition ID the sender's rule names")
	reg.Flags().StringVar(&label, "label", "", "qualitative label, e.g. \"Maintenance imminent\"")
	reg.Flags().StringVar(&salt, "salt", "", "salt shared with the sender (its rule's label_salt)")
	reg.Flags().StringVar(&a.Importance, "importance", "high", "importance carried by the event")
	reg.Flags().StringVar(&a.Sender, "sender", "", "only this org may trigger it")
	c.AddCommand(reg)
	return c
}
