// Package demo holds the guided scenarios of the papers, run on a local
// consortium and printing each step's evidence.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/sealnet/sealnet/apiclient"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/member"
)

// Share runs paper 002's Figure 3, steps 1-9, between company B (org1,
// the data owner) and company A (org2), then crypto-shreds the object.
func Share(ctx context.Context, w io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	dir, err := os.MkdirTemp("", "sealnet-demo-share-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p("starting a consortium of two companies (separate nodes, one channel, CometBFT + libp2p)...")
	c, err := local.Start(dir, 2, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	B, A := c.Orgs[0], c.Orgs[1]
	const ch = "default"

	p("\n[1] Registration: each company's CA issues certificates from CSRs; private keys never leave the member")
	bob := B.Admin
	p("    B = %s@%s  role %s  certificate %s (in the channel genesis)", bob.Member.ID, bob.Member.Org, bob.Member.Role, bob.Member.Fingerprint)
	alice, enrolled, err := A.Enroll(ctx, "alice", identity.RoleClient)
	if err != nil {
		return fmt.Errorf("step 1: %w", err)
	}
	p("    A = %s@%s  role %s  certificate %s (CSR issued by %s's CA, enrolled in tx %s at height %d)",
		alice.Member.ID, alice.Member.Org, alice.Member.Role, alice.Member.Fingerprint, A.Name, enrolled.TxID[:16], enrolled.Height)
	// alice reaches her org's node over TLS with her own certificate
	aliceAPI, err := A.Client(alice)
	if err != nil {
		return err
	}

	data := sampleLog()
	sum := sha256.Sum256(data)
	p("\n[2] B signs M1 = (ID_B, T1, data) and encrypts it with a fresh per-object data key (AES-256-GCM streaming), stores it in IPFS")
	put, err := member.Put(ctx, B.API, bob, ch, bytes.NewReader(data), member.Meta{Keywords: []string{"maintenance", "spindle"},
		Summary: "spindle counter and maintenance log, line 4", Type: "text/csv"}, nil)
	if err != nil {
		return fmt.Errorf("step 2: %w", err)
	}
	p("    plaintext %d bytes, sha256 %s, T1 %s", put.PlaintextSize, hex.EncodeToString(sum[:]), put.T1.Format(time.RFC3339Nano))
	p("\n[3] IPFS returns the hash address of the ciphertext")
	p("    CID %s of the %d ciphertext bytes (CIDv1, raw leaves, 256 KiB chunks: the CID Kubo computes for the same bytes)", put.CID, put.CiphertextSize)
	p("\n[4] B adds the Keyword-index table to the chain (Subfile)")
	p("    tx %s at height %d, SubmitB = h(r,s) = %s, key custodian %s@%s", put.TXNumber, put.Height, put.SubmitB, "node", B.Name)

	if err := A.WaitHeight(put.Height, 10*time.Second); err != nil {
		return err
	}
	p("\n[5] A queries the chain by keyword (Querfile, itself recorded)")
	q, err := aliceAPI.Call(ctx, alice, ch, index.Name, "querfile", index.FindArgs{Keyword: "maintenance"})
	if err != nil || q.Code != 0 {
		return fmt.Errorf("step 5: %v %s", err, q.Error)
	}
	var found index.FindResult
	if err := decode(q.Result, &found); err != nil {
		return err
	}
	p("    tx %s at height %d, QueryA = h(r,s) = %s", q.TxID[:16], q.Height, found.QueryA)
	p("\n[6] the chain returns the Keyword-index table")
	for _, e := range found.Entries {
		p("    holder %s (%s)  %s  %q  %d bytes  tx %s", e.Holder, e.ID, e.HashAddress, e.Summary, e.Size, e.TXNumber[:16])
	}

	p("\n[7] A requests the data key from B: {ID_A, ID_B, T_AB, Hash_Data, TXnumber, nonce}, signed by A, HPKE-sealed to B's node")
	var out bytes.Buffer
	got, err := member.Get(ctx, aliceAPI, alice, ch, put.TXNumber, &out, nil)
	if err != nil {
		return fmt.Errorf("steps 7-9: %w", err)
	}
	p("    request hash %s, recorded on chain in tx %s", got.Request, got.RequestTx[:16])
	p("\n[8] B's node checks A's signature against A's certificate on chain, the time window, the nonce and A's channel membership,")
	p("    and answers {ID_B, ID_A, T_BA, data key} signed by B's node and HPKE-sealed to A (the key never appears on chain)")
	rec, err := answered(ctx, A, put.TXNumber)
	if err != nil {
		return fmt.Errorf("step 8: %w", err)
	}
	p("    on chain: request %s, answer %s, granted %v (hashes of the signed messages)", rec.Request, rec.Answer, rec.Granted)
	p("    answer signature by %s verified: %v", got.Custodian, got.AnswerSigned)
	p("\n[9] A fetches the ciphertext by CID over bitswap, decrypts it and verifies B's signature on M1")
	p("    %d bytes, owner %s signed at %s: signature verified %v", got.Size, got.Owner, got.T1.Format(time.RFC3339Nano), got.SignatureOK)
	gotSum := sha256.Sum256(out.Bytes())
	p("    sha256 of the decrypted file %s, of the original %s: %s", hex.EncodeToString(gotSum[:]), hex.EncodeToString(sum[:]), verdict(gotSum == sum))
	if gotSum != sum {
		return errors.New("step 9: decrypted data differs from the original")
	}

	p("\n[+] B crypto-shreds the object: data key destroyed, blocks removed, entry marked purged (its hashes stay as evidence)")
	pt, err := member.Purge(ctx, B.API, bob, ch, put.TXNumber)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	p("    purge tx %s at height %d", pt.TxID[:16], pt.Height)
	if err := A.WaitHeight(pt.Height, 10*time.Second); err != nil {
		return err
	}
	_, err = member.Get(ctx, aliceAPI, alice, ch, put.TXNumber, io.Discard, nil)
	var denied *member.DeniedError
	if !errors.As(err, &denied) {
		return fmt.Errorf("request after purge: want a denial, got %v", err)
	}
	p("    A asks again: %v (signed denial)", err)
	p("\nall steps passed")
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "equal"
	}
	return "DIFFERENT"
}

// answered waits until the custodian's answer to the entry's first
// request is on chain.
func answered(ctx context.Context, o *local.Org, txn string) (*index.TransferRecord, error) {
	for range 200 {
		recs, err := apiclient.Query[[]index.TransferRecord](ctx, o.API, "default", index.Name, "transfers", index.PurgeArgs{TXNumber: txn})
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 && recs[0].Answer != "" {
			return &recs[0], nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, errors.New("the answer was not recorded on chain within 10 s")
}

// sampleLog is a machine's maintenance log: a CSV of counter readings.
func sampleLog() []byte {
	var b bytes.Buffer
	b.WriteString("time,machine,counter,temperature_c,vibration_mm_s\n")
	rng := rand.New(rand.NewPCG(4, 5367))
	t := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	for i := range 40000 {
		fmt.Fprintf(&b, "%s,line4-spindle,%d,%.1f,%.2f\n", t.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 5000+i/100, 60+rng.Float64()*8, 1+rng.Float64()*3)
	}
	return b.Bytes()
}
