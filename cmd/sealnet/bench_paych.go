package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/bench"
)

func benchPaychCmd(g *globals) *cobra.Command {
	o := bench.PaychOptions{}
	c := &cobra.Command{
		Use:   "paych [--json]",
		Short: "Vouchers/s made, sent, verified and stored durably between two companies' nodes; verified only; chain transactions per 1,000 results",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
			defer cancel()
			o.Progress = os.Stderr
			r, err := bench.Paych(ctx, o)
			if err != nil {
				return err
			}
			fmt.Printf("\n%d results paid over one channel between two nodes (libp2p, group-committed journal), GOMAXPROCS %d\n", r.Results, r.GOMAXPROCS)
			fmt.Printf("%-58s %9.0f vouchers/s  (%.1f s; payment p50 %.1f ms, p99 %.1f ms; %.1f vouchers per fsync)\n",
				"made, sent, verified and stored durably", r.VouchersDurablePerS, r.Seconds, r.PayP50Ms, r.PayP99Ms, r.VouchersPerFsync)
			fmt.Printf("%-58s %9.0f vouchers/s\n", "verified only (decode and check), every core, best of 3", r.VouchersVerifiedPerS)
			fmt.Printf("%-58s %9.0f vouchers/s\n", "  baseline, same run: bare P-256 verification, every core", r.P256VerifyPerS)
			fmt.Printf("%-58s %9.0f vouchers/s\n", "made only (signed), every core, best of 3", r.VouchersSignedPerS)
			fmt.Printf("%-58s %9d (%.2f per 1,000 results; paid %d, refunded %d)\n", "chain transactions of the channel", r.ChainTxs, r.ChainTxPer1000Results, r.Paid, r.Refunded)
			fmt.Println("published figures, quoted, not measured here:")
			for _, q := range r.Published {
				fmt.Printf("  %-20s %s\n", q.System, q.Figure)
			}
			if g.json {
				return printJSON(r)
			}
			return nil
		},
	}
	c.Flags().IntVar(&o.Results, "results", 20_000, "results paid, one voucher each")
	c.Flags().IntVar(&o.InFlight, "in-flight", 64, "payments waiting for their acknowledgement at once")
	c.Flags().IntVar(&o.Verify, "verify", 40_000, "vouchers of each of the three verification-only runs")
	return c
}
