package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/durable"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/node"
)

const certValidity = 2 * 365 * 24 * time.Hour

func caCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "ca", Short: "The org's certificate authority: issue, revoke and list member certificates"}
	c.AddCommand(caCSRCmd(g), caIssueCmd(g), caImportCmd(g), caRevokeCmd(g), caListCmd(g))
	return c
}

// caCSRCmd is the member's side: its key is made and stays in its keystore.
func caCSRCmd(g *globals) *cobra.Command {
	var name, org, out string
	c := &cobra.Command{
		Use:   "csr --name ID --org ORG --out FILE",
		Short: "Make a key in the keystore and a certificate signing request for it",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			key, err := identity.NewKey()
			if err != nil {
				return err
			}
			csr, err := identity.NewCSR(key, name, org)
			if err != nil {
				return err
			}
			if err := identity.SaveKey(g.Home().Keys(), name, key); err != nil {
				return err
			}
			if err := durable.WriteFile(out, identity.EncodeCSRPEM(csr), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "key %s saved in %s; send %s to your org's admin\n", name, g.Home().Keys(), out)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "member ID")
	c.Flags().StringVar(&org, "org", "", "organization")
	c.Flags().StringVar(&out, "out", "", "CSR file to write")
	for _, f := range []string{"name", "org", "out"} {
		c.MarkFlagRequired(f)
	}
	return c
}

func caIssueCmd(g *globals) *cobra.Command {
	var name, roleName, csrFile, out string
	var noEnroll bool
	c := &cobra.Command{
		Use:   "issue (--name ID | --csr FILE --out FILE) --role ROLE",
		Short: "Issue a member certificate from a CSR and enroll it on the channel",
		Long: `Issue a member certificate and enroll it on the channel (registry.enroll).

With --csr the member made its key elsewhere (sealnet ca csr) and gets back the
certificate written to --out. With only --name, the member is local: its key is
made in this home's keystore, never leaving it.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			role, err := identity.ParseRole(roleName)
			if err != nil {
				return err
			}
			ca, err := identity.LoadCA(g.Home().CA())
			if err != nil {
				return fmt.Errorf("org CA (only an org admin's home has it): %w", err)
			}
			var csr []byte
			var key *keyHolder
			if csrFile != "" {
				if out == "" {
					return fmt.Errorf("--csr needs --out for the certificate")
				}
				pemBytes, err := os.ReadFile(csrFile)
				if err != nil {
					return err
				}
				if csr, err = identity.DecodeCSRPEM(pemBytes); err != nil {
					return err
				}
			} else {
				if name == "" {
					return fmt.Errorf("give --name for a local member or --csr for a remote one")
				}
				k, err := identity.NewKey()
				if err != nil {
					return err
				}
				if csr, err = identity.NewCSR(k, name, ca.Org); err != nil {
					return err
				}
				key = &keyHolder{k}
			}
			der, err := ca.Issue(csr, role, time.Now().Add(-5*time.Minute), certValidity)
			if err != nil {
				return err
			}
			if err := ca.Save(g.Home().CA()); err != nil {
				return err
			}
			m, err := identity.ParseMember(der)
			if err != nil {
				return err
			}
			if key != nil {
				if err := identity.SaveIdentity(g.Home().Keys(), m.ID, key.k, der); err != nil {
					return err
				}
			} else if err := durable.WriteFile(out, append(identity.EncodeCertPEM(der), identity.EncodeCertPEM(ca.Cert.Raw)...), 0o644); err != nil {
				return err
			}
			res := map[string]any{"id": m.ID, "org": m.Org, "role": m.Role, "fingerprint": m.Fingerprint.String()}
			if !noEnroll {
				r, err := g.call(registry.Name, "enroll", registry.EnrollArgs{CertDER: der})
				if err != nil {
					return fmt.Errorf("certificate issued but not enrolled: %w", err)
				}
				res["tx_id"], res["height"] = r.TxID, r.Height
			}
			if g.json {
				return printJSON(res)
			}
			fmt.Printf("issued %s@%s role %s fingerprint %s\n", m.ID, m.Org, m.Role, m.Fingerprint)
			if tx, ok := res["tx_id"]; ok {
				fmt.Printf("enrolled on channel %s: tx %s height %d\n", g.channel, tx, res["height"])
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "member ID of a local member")
	f.StringVar(&roleName, "role", "client", "admin, client, node, certifier, worker or auditor")
	f.StringVar(&csrFile, "csr", "", "CSR file of a remote member")
	f.StringVar(&out, "out", "", "certificate file to write (with --csr)")
	f.BoolVar(&noEnroll, "no-enroll", false, "only issue; do not enroll on the channel")
	return c
}

type keyHolder struct{ k *ecdsa.PrivateKey }

func caImportCmd(g *globals) *cobra.Command {
	var name, certFile string
	c := &cobra.Command{
		Use:   "import --name ID --cert FILE [--node https://HOST:PORT]",
		Short: "Store the certificate the admin issued beside the key made by 'ca csr', and the org root it carries",
		Long: `Store the certificate the admin issued (sealnet ca issue --csr) beside the key
that 'sealnet ca csr' made in this home's keystore. The file also carries the
org's root certificate: it is saved as root.pem, and the CLI accepts only a
node whose certificate that root issued.

With --node, this home becomes the member's own machine: client.toml names
the org's node and this identity, so later commands need neither flag.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			h := g.Home()
			key, err := identity.LoadKey(h.Keys(), name)
			if err != nil {
				return err
			}
			pemBytes, err := os.ReadFile(certFile)
			if err != nil {
				return err
			}
			chain, err := identity.DecodeCertChainPEM(pemBytes)
			if err != nil {
				return err
			}
			cert := chain[0]
			if len(chain) > 1 {
				root := chain[len(chain)-1]
				if err := cert.CheckSignatureFrom(root); err != nil {
					return fmt.Errorf("%s: the certificate is not issued by the root it carries: %w", certFile, err)
				}
				if err := identity.SaveRoot(h.Root(), root); err != nil {
					return err
				}
			} else if _, err := identity.LoadRoot(h.Root()); err != nil {
				return fmt.Errorf("%s carries no org root and %s has none: ask the admin for a file made by 'sealnet ca issue --csr'", certFile, h.Root())
			}
			if err := identity.SaveIdentity(h.Keys(), name, key, cert.Raw); err != nil {
				return err
			}
			if _, err := identity.LoadIdentity(h.Keys(), name); err != nil {
				return err
			}
			if g.nodeAddr != "" {
				if err := h.SaveClientConfig(&node.ClientConfig{Node: g.nodeAddr, Identity: name}); err != nil {
					return err
				}
			}
			fmt.Fprintf(os.Stderr, "identity %s stored in %s\n", name, h.Keys())
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "member ID")
	c.Flags().StringVar(&certFile, "cert", "", "certificate PEM (with the org root after it)")
	c.MarkFlagRequired("name")
	c.MarkFlagRequired("cert")
	return c
}

func caRevokeCmd(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "revoke FINGERPRINT",
		Short: "Revoke a certificate of your org: from the next block its transactions are rejected",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			r, err := g.call(registry.Name, "revoke", registry.RevokeArgs{Fingerprint: args[0], Reason: reason})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			fmt.Printf("revoked %s: tx %s height %d\n", args[0], r.TxID, r.Height)
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "reason recorded on chain")
	return c
}

func caListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the certificates enrolled on the channel",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var certs []registry.Cert
			err := g.withClient(func(ctx context.Context, c *apiclient.Client) (err error) {
				certs, err = apiclient.Query[[]registry.Cert](ctx, c, g.channel, registry.Name, "certs", struct{}{})
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(certs)
			}
			for _, r := range certs {
				state := "valid"
				if r.Revoked != nil {
					state = fmt.Sprintf("revoked at height %d by %s", r.Revoked.Height, r.Revoked.By)
				}
				fmt.Printf("%-20s %-10s %-9s %s  %s\n", r.ID, r.Org, r.Role, r.Fingerprint, state)
			}
			return nil
		},
	}
}
