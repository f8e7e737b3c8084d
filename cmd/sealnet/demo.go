package main

import (
	"context"
	"os"
	"os/signal"

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
	return c
}
