package main

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/demo"
)

func demoCmd(*globals) *cobra.Command {
	c := &cobra.Command{Use: "demo", Short: "Guided scenarios of the papers on a local consortium"}
	c.AddCommand(&cobra.Command{
		Use:   "share",
		Short: "Paper 002, Figure 3: two companies share an encrypted file, steps 1-9, then crypto-shred it",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			return demo.Share(ctx, os.Stdout)
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "certify",
		Short: "Paper 000, section 3.3: certifiers rebuild and certify the maintenance module, a stream runs it, a leaking revision is refused, a suspension stops the stream",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			return demo.Certify(ctx, os.Stdout)
		},
	})
	var program string
	cc := &cobra.Command{
		Use:   "compute [--program stats.wasm]",
		Short: "Paper 004: four companies, an analytics job on encrypted data, redundant workers, a tampered one caught",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			var o demo.ComputeOptions
			if program != "" {
				b, err := os.ReadFile(program)
				if err != nil {
					return err
				}
				o.Program = b
			}
			return demo.Compute(ctx, os.Stdout, o)
		},
	}
	cc.Flags().StringVar(&program, "program", "", "the stats module (default: built from the source tree; scripts/build-programs.sh)")
	c.AddCommand(cc)
	var opt demo.MaintenanceOptions
	m := &cobra.Command{
		Use:   "maintenance",
		Short: "Paper 000, section 5: a press's counter streamed over the DCMB, a hashed maintenance condition, a receiver outage, an offline audit",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			return demo.Maintenance(ctx, os.Stdout, opt)
		},
	}
	m.Flags().StringVar(&opt.OPCUA, "opcua", "", "OPC UA endpoint of a machine (default: a simulated one)")
	m.Flags().StringVar(&opt.Node, "node", "", "node ID of the machine's work-piece counter (with --opcua)")
	m.Flags().StringVar(&opt.Security, "security", "None", "OPC UA security: None, Sign or SignAndEncrypt (with --opcua)")
	m.Flags().StringVar(&opt.Policy, "policy", "", "OPC UA security policy: Basic256Sha256 (default), Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss")
	m.Flags().StringVar(&opt.PKI, "pki", "", "trust list of OPC UA server certificates (own, trusted, rejected, issuers), for Sign and SignAndEncrypt")
	m.Flags().StringVar(&opt.Username, "user", "", "OPC UA user name (default: anonymous)")
	m.Flags().StringVar(&opt.PasswordFile, "password-file", "", "file whose first line is the user's password")
	m.Flags().DurationVar(&opt.Outage, "outage", 4*time.Second, "how long the manufacturer's node stays offline")
	c.AddCommand(m)
	return c
}
