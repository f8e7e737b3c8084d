package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/member"
)

func dataCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "data", Short: "Encrypted data exchange between companies (paper 002)"}
	c.AddCommand(dataPutCmd(g), dataFindCmd(g), dataGetCmd(g), dataPurgeCmd(g), dataRequestsCmd(g),
		dataDecideCmd(g, "approve", true), dataDecideCmd(g, "deny", false))
	return c
}

// longCtx is for transfers: no timeout, interrupted by Ctrl-C.
func longCtx() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func dataPutCmd(g *globals) *cobra.Command {
	var meta member.Meta
	c := &cobra.Command{
		Use:   "put FILE|DIR... --keyword K [--keyword K2] [--summary S] [--type T]",
		Short: "Sign, encrypt and store files, keep their keys with your org's node, index them on chain",
		Long: `Each file gets a fresh data key, the owner's signature inside its
encryption, and its own index entry. Several files, or the regular files
under a directory, are put together: in batches of up to 250 files (one
store request, one key deposit and one transaction batch each), several
batches at once, so that their entries share as few blocks as the chain
allows. Without --summary, each file of several is summarized by its path.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, cl, err := g.signerAndClient()
			if err != nil {
				return err
			}
			ctx, cancel := longCtx()
			defer cancel()
			if fi, err := os.Stat(args[0]); len(args) == 1 && err == nil && fi.Mode().IsRegular() {
				return putOne(ctx, g, cl, id, args[0], meta)
			}
			return putMany(ctx, g, cl, id, args, meta)
		},
	}
	c.Flags().StringSliceVar(&meta.Keywords, "keyword", nil, "keyword (repeat for several)")
	c.Flags().StringVar(&meta.Summary, "summary", "", "short description")
	c.Flags().StringVar(&meta.Type, "type", "", "data type")
	c.MarkFlagRequired("keyword")
	return c
}

func putOne(ctx context.Context, g *globals, cl *apiclient.Client, id *identity.Identity, path string, meta member.Meta) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	draw, done := progress("put", fi.Size())
	r, err := member.Put(ctx, cl, id, g.channel, f, meta, draw)
	done()
	if err != nil {
		return err
	}
	if g.json {
		return printJSON(r)
	}
	fmt.Printf("stored %s\n  plaintext %d bytes, ciphertext %d bytes (what the CID addresses)\n  encrypted with a fresh data key, signed by %s at %s\n  indexed: tx %s height %d, SubmitB %s\n  key held by custodian %s\n",
		r.CID, r.PlaintextSize, r.CiphertextSize, id.Member.ID+"@"+id.Member.Org, r.T1.Format("2006-01-02T15:04:05.000Z"), r.TXNumber, r.Height, r.SubmitB, r.Custodian[:16])
	return nil
}

// putFile is one line of a multi-file put's result.
type putFile struct {
	Name string `json:"name"`
	*member.PutResult
}

func putMany(ctx context.Context, g *globals, cl *apiclient.Client, id *identity.Identity, args []string, meta member.Meta) error {
	files, total, err := collectFiles(args, meta)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no regular files in %s", strings.Join(args, " "))
	}
	start := time.Now()
	draw, done := filesProgress("put", len(files), total)
	res, err := member.PutMany(ctx, cl, id, g.channel, files, draw)
	done()
	var out []putFile
	for i, r := range res {
		if r != nil {
			out = append(out, putFile{Name: files[i].Name, PutResult: r})
		}
	}
	if g.json {
		printJSON(out)
	} else {
		lo, hi := int64(0), int64(0)
		for _, f := range out {
			fmt.Printf("%s  tx %s  %s\n", f.CID, f.TXNumber, f.Name)
			if lo == 0 || f.Height < lo {
				lo = f.Height
			}
			hi = max(hi, f.Height)
		}
		if len(out) > 0 {
			secs := time.Since(start).Seconds()
			fmt.Printf("stored and indexed %d of %d files (%d bytes) in %.2f s, %.0f files/s, at heights %d-%d; each encrypted with its own key, signed by %s, keys held by custodian %s\n",
				len(out), len(files), total, secs, float64(len(out))/secs, lo, hi, id.Member.ID+"@"+id.Member.Org, out[0].Custodian[:16])
		}
	}
	return err
}

// collectFiles lists the regular files named or under the directories
// named, in order; without a summary, each is summarized by its path.
func collectFiles(args []string, meta member.Meta) ([]member.File, int64, error) {
	var files []member.File
	var total int64
	add := func(path string, size int64) {
		m := meta
		if m.Summary == "" {
			m.Summary = path
		}
		files = append(files, member.File{Name: path, Size: size, Meta: m,
			Open: func() (io.ReadCloser, error) { return os.Open(path) }})
		total += size
	}
	for _, arg := range args {
		err := filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			add(path, fi.Size())
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return files, total, nil
}

func dataFindCmd(g *globals) *cobra.Command {
	c := indexCmd(g)
	for _, sub := range c.Commands() {
		if sub.Name() == "find" {
			c.RemoveCommand(sub)
			sub.Short = "Find shared data by keyword (Querfile, recorded on chain)"
			return sub
		}
	}
	panic("index has no find command")
}

// resolveEntry accepts a tx number or a CID and returns the tx number.
func resolveEntry(ctx context.Context, cl *apiclient.Client, channel, arg string) (string, error) {
	if b, err := hex.DecodeString(arg); err == nil && len(b) == 32 {
		return arg, nil
	}
	res, err := apiclient.Query[index.FindResult](ctx, cl, channel, index.Name, "by_cid", map[string]string{"cid": arg})
	if err != nil {
		return "", err
	}
	if len(res.Entries) == 0 {
		return "", fmt.Errorf("no index entry for %s on channel %s", arg, channel)
	}
	for i := len(res.Entries) - 1; i >= 0; i-- {
		if !res.Entries[i].Purged {
			return res.Entries[i].TXNumber, nil
		}
	}
	return res.Entries[len(res.Entries)-1].TXNumber, nil
}

func dataGetCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "get TX_NUMBER|CID -o FILE",
		Short: "Request the key from the owner's node, fetch, decrypt and verify the owner's signature",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, cl, err := g.signerAndClient()
			if err != nil {
				return err
			}
			ctx, cancel := longCtx()
			defer cancel()
			txn, err := resolveEntry(ctx, cl, g.channel, args[0])
			if err != nil {
				return err
			}
			e, err := member.Entry(ctx, cl, g.channel, txn)
			if err != nil {
				return err
			}
			// the file appears whole once decrypted and verified, or not at all
			draw, done := progress("get", int64(e.Size))
			var r *member.GetResult
			err = durable.Write(out, 0o600, func(w io.Writer) (err error) {
				r, err = member.Get(ctx, cl, id, g.channel, txn, w, draw)
				return err
			})
			done()
			var denied *member.DeniedError
			if errors.As(err, &denied) && g.json {
				printJSON(r)
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("wrote %s: %d bytes\n  key granted by %s (answer signature verified), request %s recorded in tx %s\n  owner %s signed it at %s: signature verified\n",
				out, r.Size, r.Custodian, r.Request[:16], r.RequestTx, r.Owner, r.T1.Format("2006-01-02T15:04:05.000Z"))
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "file to write")
	c.MarkFlagRequired("out")
	return c
}

func dataPurgeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "purge TX_NUMBER|CID",
		Short: "Crypto-shred your object: destroy its key and blocks, mark the entry purged on chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			id, cl, err := g.signerAndClient()
			if err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			txn, err := resolveEntry(ctx, cl, g.channel, args[0])
			if err != nil {
				return err
			}
			r, err := member.Purge(ctx, cl, id, g.channel, txn)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("purged %s: data key destroyed, local blocks removed, entry marked in tx %s height %d\n", txn, r.TxID, r.Height)
			return nil
		},
	}
}

func dataRequestsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "requests",
		Short: "Key requests waiting for your approval (share.policy = approval)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var ps []apiclient.PendingRequest
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				ps, err = c.PendingRequests(ctx)
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(ps)
			}
			if len(ps) == 0 {
				fmt.Println("no pending requests")
			}
			for _, p := range ps {
				fmt.Printf("%s  %s asks for %s (tx %s) on %s at %s\n", p.ID, p.Requester, p.CID, p.TXNumber[:16], p.Channel, p.Time)
			}
			return nil
		},
	}
}

func dataDecideCmd(g *globals, verb string, approve bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID",
		Short: verb + " a pending key request; the requester's next 'data get' gets the verdict",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var p *apiclient.PendingRequest
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				p, err = c.Decide(ctx, args[0], approve)
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(p)
			}
			fmt.Printf("%s: %s's request for %s\n", verb, p.Requester, p.CID)
			return nil
		},
	}
}
