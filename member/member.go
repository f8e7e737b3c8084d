// Package member is what a member's own machine does in paper 002's flows,
// through its org node's API: encrypting and signing data before it leaves
// (Put), asking the custodian for a key and decrypting what comes back
// (Get), and crypto-shredding (Purge). Private keys and plaintext stay on
// the member's side; the node sees ciphertext, and as custodian of its own
// org's objects, their data keys.
package member

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/seal"
	"github.com/sealnet/sealnet/share"
	"github.com/sealnet/sealnet/txerr"
)

// Meta describes an object for the keyword index.
type Meta struct {
	Keywords []string
	Summary  string
	Type     string
}

// PutResult is the evidence of a stored object.
type PutResult struct {
	CID      string `json:"cid"`
	TXNumber string `json:"tx_number"`
	Height   int64  `json:"height"`
	// PlaintextSize is the file's size (the index entry's size);
	// CiphertextSize that of the sealed object the CID addresses.
	PlaintextSize  int64     `json:"plaintext_size"`
	CiphertextSize int64     `json:"ciphertext_size"`
	T1             time.Time `json:"t1"`
	Custodian      string    `json:"custodian"`
	SubmitB        string    `json:"submit_b"`
}

// Progress is told how many plaintext bytes went through so far.
type Progress func(n int64)

type counter struct {
	r    io.Reader
	n    int64
	tell Progress
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.tell != nil && n > 0 {
		c.tell(c.n)
	}
	return n, err
}

// Put signs and encrypts r as id (Algorithm 1) while streaming it to the
// node's store, hands the fresh data key to the node as custodian, and
// records the entry with Subfile.
func Put(ctx context.Context, c *apiclient.Client, id *identity.Identity, channel string, r io.Reader, meta Meta, tell Progress) (*PutResult, error) {
	// the custodian's fingerprint is asked for while the data uploads
	var st *apiclient.Status
	var stErr error
	asked := make(chan struct{})
	go func() {
		st, stErr = c.Status(ctx)
		close(asked)
	}()
	key, err := seal.NewDataKey()
	if err != nil {
		return nil, err
	}
	t1 := time.Now().UTC()
	in := &counter{r: r, tell: tell}
	pr, pw := newPipe(8)
	go func() {
		enc, err := seal.Encrypt(pw, key, id, t1)
		if err == nil {
			_, err = io.CopyBuffer(enc, in, make([]byte, 1<<20))
			if err == nil {
				err = enc.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	stored, err := c.StorePut(ctx, channel, pr)
	pr.CloseWithError(errors.New("upload ended"))
	<-asked
	if err != nil {
		return nil, fmt.Errorf("store ciphertext: %w", err)
	}
	if stErr != nil {
		return nil, stErr
	}
	if err := c.PutDataKey(ctx, channel, stored.CID, key[:]); err != nil {
		return nil, fmt.Errorf("hand the data key to the custodian: %w", err)
	}
	args := index.SubfileArgs{HashAddress: stored.CID, Summary: meta.Summary, Keywords: meta.Keywords,
		Size: uint64(in.n), Type: meta.Type, Custodian: st.Fingerprint}
	tx, err := c.Call(ctx, id, channel, index.Name, "subfile", args)
	if err != nil {
		return nil, err
	}
	if tx.Code != 0 {
		return nil, &txerr.Error{Code: txerr.Code(tx.Code), Msg: tx.Error}
	}
	var receipt index.SubfileReceipt
	_ = decodeResult(tx, &receipt)
	return &PutResult{CID: stored.CID, TXNumber: tx.TxID, Height: tx.Height, PlaintextSize: in.n, CiphertextSize: stored.Bytes, T1: t1,
		Custodian: st.Fingerprint, SubmitB: receipt.SubmitB}, nil
}

// GetResult is the evidence of a retrieved object.
type GetResult struct {
	CID          string    `json:"cid"`
	TXNumber     string    `json:"tx_number"`
	Owner        string    `json:"owner"` // id@org of the M1 signer
	T1           time.Time `json:"t1"`
	Size         uint64    `json:"size"`
	Request      string    `json:"request"`       // hash of the signed request
	RequestTx    string    `json:"request_tx_id"` // its on-chain record
	RequestAt    int64     `json:"request_height"`
	Custodian    string    `json:"custodian"` // id@org
	SignatureOK  bool      `json:"owner_signature_verified"`
	AnswerSigned bool      `json:"answer_signature_verified"`
}

// DeniedError is the custodian's signed refusal.
type DeniedError struct {
	Code    string
	Message string
}

func (e *DeniedError) Error() string {
	if e.Message == "" {
		return "key request denied: " + e.Code
	}
	return "key request denied: " + e.Code + ": " + e.Message
}

// Unwrap makes a denial count as a rejected request (txerr.Rejected).
func (e *DeniedError) Unwrap() error { return txerr.Sentinel(txerr.Rejected) }

// Entry reads an index entry.
func Entry(ctx context.Context, c *apiclient.Client, channel, txNumber string) (*index.Entry, error) {
	e, err := apiclient.Query[index.Entry](ctx, c, channel, index.Name, "entry", index.PurgeArgs{TXNumber: txNumber})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// certificate fetches and parses an enrolled certificate.
func certificate(ctx context.Context, c *apiclient.Client, channel, fp string) (*identity.Member, error) {
	rec, err := apiclient.Query[registry.Cert](ctx, c, channel, registry.Name, "cert", registry.GetArgs{Fingerprint: fp})
	if err != nil {
		return nil, err
	}
	return identity.ParseMember(rec.DER)
}

// Get runs the transfer phase (Algorithm 4) for the entry txNumber: a
// signed, sealed request to the custodian (recorded on chain), its answer,
// the ciphertext from the node, decryption and the owner's M1 signature
// check. out receives the plaintext; on any error what it received must be
// discarded.
func Get(ctx context.Context, c *apiclient.Client, id *identity.Identity, channel, txNumber string, out io.Writer, tell Progress) (*GetResult, error) {
	e, err := Entry(ctx, c, channel, txNumber)
	if err != nil {
		return nil, err
	}
	if e.Custodian == "" {
		return nil, fmt.Errorf("entry %s names no custodian: it indexes data stored outside sealnet", txNumber)
	}
	// both certificates at once
	var owner *identity.Member
	var ownerErr error
	certsDone := make(chan struct{})
	go func() {
		owner, ownerErr = certificate(ctx, c, channel, e.Creator)
		close(certsDone)
	}()
	custodian, err := certificate(ctx, c, channel, e.Custodian)
	<-certsDone
	if err != nil {
		return nil, fmt.Errorf("custodian: %w", err)
	}
	if ownerErr != nil {
		return nil, fmt.Errorf("owner: %w", ownerErr)
	}
	txb, err := hex.DecodeString(txNumber)
	if err != nil || len(txb) != 32 {
		return nil, fmt.Errorf("tx number %q: want 64 hex digits", txNumber)
	}
	var tx [32]byte
	copy(tx[:], txb)
	sealed, reqHash, err := share.NewRequest(id, custodian, channel, e.HashAddress, tx, time.Now())
	if err != nil {
		return nil, err
	}
	res := &GetResult{CID: e.HashAddress, TXNumber: txNumber, Owner: owner.ID + "@" + owner.Org,
		Request: hex.EncodeToString(reqHash), Custodian: custodian.ID + "@" + custodian.Org}
	// The request's record and the request itself travel at the same time;
	// Get returns only once the record is committed.
	recorded := make(chan error, 1)
	go func() {
		rec, err := c.Call(ctx, id, channel, index.Name, "keyrequest", index.KeyRequestArgs{TXNumber: txNumber, Request: res.Request})
		if err == nil && rec.Code != 0 {
			err = &txerr.Error{Code: txerr.Code(rec.Code), Msg: rec.Error}
		}
		if err == nil {
			res.RequestTx, res.RequestAt = rec.TxID, rec.Height
		}
		recorded <- err
	}()
	defer func() {
		if recorded != nil {
			<-recorded
		}
	}()
	waitRecord := func() error {
		err := <-recorded
		recorded = nil
		if err != nil {
			return fmt.Errorf("record the request: %w", err)
		}
		return nil
	}
	// The ciphertext is fetched while the key is asked for: it is no
	// secret between the channel's nodes, and the fetch (which the node
	// streams from the custodian's node) starts a few ms earlier. It is
	// read only once the key is granted, and dropped otherwise.
	fctx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	type fetched struct {
		body io.ReadCloser
		err  error
	}
	prefetch := make(chan fetched, 1)
	go func() {
		b, err := c.StoreGet(fctx, channel, e.HashAddress, e.Custodian)
		prefetch <- fetched{b, err}
	}()
	taken := false
	take := func() fetched {
		taken = true
		return <-prefetch
	}
	defer func() {
		if !taken {
			cancelFetch()
			if f := take(); f.body != nil {
				f.body.Close()
			}
		}
	}()
	sealedAns, err := c.RelayKeyRequest(ctx, channel, e.Custodian, sealed)
	if err != nil {
		if rerr := waitRecord(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	ans, err := share.OpenAnswer(id, custodian, reqHash, sealedAns, time.Now(), 60*time.Second)
	if err != nil {
		return nil, fmt.Errorf("custodian's answer: %w", err)
	}
	res.AnswerSigned = true
	if ans.Denied != "" {
		if rerr := waitRecord(); rerr != nil {
			return res, rerr
		}
		return res, &DeniedError{Code: ans.Denied, Message: ans.Message}
	}
	var key seal.DataKey
	copy(key[:], ans.Key)
	f := take()
	if f.err != nil {
		return res, fmt.Errorf("fetch ciphertext: %w", f.err)
	}
	body := f.body
	defer body.Close()
	dec, err := seal.Decrypt(body, key, owner)
	if err != nil {
		return res, err
	}
	w := &counter{r: dec, tell: tell}
	if _, err := io.CopyBuffer(out, w, make([]byte, 1<<20)); err != nil {
		return res, err
	}
	info := dec.Info()
	res.T1, res.Size, res.SignatureOK = info.T1, info.Size, true
	return res, waitRecord()
}

// Purge destroys the object's data key and the custodian's blocks, then
// marks the entry purged on chain (its hashes stay as evidence).
func Purge(ctx context.Context, c *apiclient.Client, id *identity.Identity, channel, txNumber string) (*apiclient.TxResponse, error) {
	e, err := Entry(ctx, c, channel, txNumber)
	if err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if e.Custodian != st.Fingerprint {
		return nil, fmt.Errorf("this node is not the custodian of %s: purge through the node of %s", txNumber, e.Holder)
	}
	if err := c.ShredDataKey(ctx, channel, e.HashAddress); err != nil {
		return nil, fmt.Errorf("destroy the data key: %w", err)
	}
	tx, err := c.Call(ctx, id, channel, index.Name, "purge", index.PurgeArgs{TXNumber: txNumber})
	if err != nil {
		return nil, err
	}
	if tx.Code != 0 {
		return tx, &txerr.Error{Code: txerr.Code(tx.Code), Msg: tx.Error}
	}
	return tx, nil
}
