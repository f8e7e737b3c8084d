// Package index is paper 002's keyword-index table as a contract.
//
// Subfile stores an entry (Holder, Signature, ID, Hash_Address, Summary_Data,
// keywords, size, type, Timestamp, TXnumber, Version) with
// SubmitB = h(r, s) of the transaction's signature. Querfile finds entries
// by keyword and is itself recorded on chain with QueryA = h(r, s), for
// traceability, as the paper does. Lookup is the same search as a read-only
// query that leaves no record, for cheap browsing.
package index

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "index"

// Version is the paper's "Version" field: the storage format and ledger
// engine an entry was written with.
const Version = "sealnet/1 unixfs-cidv1 cometbft-0.38"

// Limits on an entry.
const (
	MaxKeywords   = 16
	MaxKeywordLen = 64
	MaxSummary    = 1024
	MaxType       = 64
	DefaultLimit  = 100
	MaxLimit      = 1000
)

// Key layout under the contract's prefix.
const (
	pEntry   = "e/"
	pKeyword = "k/"
	pCID     = "c/"
	pQuery   = "q/"
	pXfer    = "x/"
)

// Entry is one row of the keyword-index table.
type Entry struct {
	Holder      string   `cbor:"holder" json:"holder"` // org holding the data
	ID          string   `cbor:"id" json:"id"`         // member ID of the submitter
	Signature   string   `cbor:"signature" json:"signature"`
	SubmitB     string   `cbor:"submit_b" json:"submit_b"` // h(r, s)
	HashAddress string   `cbor:"hash_address" json:"hash_address"`
	Summary     string   `cbor:"summary_data" json:"summary_data"`
	Keywords    []string `cbor:"keywords" json:"keywords"`
	Size        uint64   `cbor:"size" json:"size"`
	Type        string   `cbor:"type" json:"type"`
	Timestamp   int64    `cbor:"timestamp" json:"timestamp"` // block time, Unix nanoseconds
	TXNumber    string   `cbor:"tx_number" json:"tx_number"`
	Height      int64    `cbor:"height" json:"height"`
	Version     string   `cbor:"version" json:"version"`
	Creator     string   `cbor:"creator" json:"creator"`                         // fingerprint of the submitter's certificate (the M1 signer)
	Custodian   string   `cbor:"custodian,omitempty" json:"custodian,omitempty"` // fingerprint of the node that answers key requests
	Purged      bool     `cbor:"purged,omitempty" json:"purged,omitempty"`
	PurgedAt    int64    `cbor:"purged_at,omitempty" json:"purged_at,omitempty"` // height
}

// TransferRecord is the on-chain trace of one key request and its answer:
// hashes only (the paper's h(r, s)), never the key.
type TransferRecord struct {
	TXNumber  string `cbor:"tx_number" json:"tx_number"` // the entry
	Requester string `cbor:"requester" json:"requester"` // fingerprint
	Request   string `cbor:"request" json:"request"`     // SHA-256 of the signed request
	RequestAt int64  `cbor:"request_at" json:"request_at"`
	Answer    string `cbor:"answer,omitempty" json:"answer,omitempty"` // SHA-256 of the signed answer
	Granted   bool   `cbor:"granted,omitempty" json:"granted,omitempty"`
	Reason    string `cbor:"reason,omitempty" json:"reason,omitempty"`
	AnswerAt  int64  `cbor:"answer_at,omitempty" json:"answer_at,omitempty"`
}

// KeyRequestArgs records that the caller asked for an entry's key.
type KeyRequestArgs struct {
	TXNumber string `cbor:"tx_number"`
	Request  string `cbor:"request"` // hex SHA-256 of the signed request
}

// KeyAnswerArgs records the custodian's answer to a recorded request.
type KeyAnswerArgs struct {
	TXNumber string `cbor:"tx_number"`
	Request  string `cbor:"request"`
	Answer   string `cbor:"answer"`
	Granted  bool   `cbor:"granted,omitempty"`
	Reason   string `cbor:"reason,omitempty"`
}

// PurgeArgs marks an entry purged (its key destroyed).
type PurgeArgs struct {
	TXNumber string `cbor:"tx_number"`
}

// QueryRecord is the on-chain trace of a Querfile call.
type QueryRecord struct {
	ID        string `cbor:"id" json:"id"`
	Org       string `cbor:"org" json:"org"`
	Keyword   string `cbor:"keyword" json:"keyword"`
	QueryA    string `cbor:"query_a" json:"query_a"` // h(r, s)
	Matches   int    `cbor:"matches" json:"matches"`
	Timestamp int64  `cbor:"timestamp" json:"timestamp"`
	TXNumber  string `cbor:"tx_number" json:"tx_number"`
}

// SubfileArgs are Subfile's arguments.
type SubfileArgs struct {
	HashAddress string   `cbor:"hash_address"`
	Summary     string   `cbor:"summary"`
	Keywords    []string `cbor:"keywords"`
	Size        uint64   `cbor:"size,omitempty"`
	Type        string   `cbor:"type,omitempty"`
	Custodian   string   `cbor:"custodian,omitempty"` // fingerprint of the node that answers key requests
}

// FindArgs are Querfile's and Lookup's arguments.
type FindArgs struct {
	Keyword string `cbor:"keyword"`
	Limit   int    `cbor:"limit,omitempty"`
}

// FindResult is what Querfile and Lookup return.
type FindResult struct {
	Entries []Entry `cbor:"entries" json:"entries"`
	QueryA  string  `cbor:"query_a,omitempty" json:"query_a,omitempty"`
	More    bool    `cbor:"more,omitempty" json:"more,omitempty"`
}

// Contract is the index contract.
type Contract struct{}

// New returns the index contract.
func New() Contract { return Contract{} }

// Name implements contract.Contract.
func (Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c Contract) Methods() map[string]contract.Method {
	writers := []identity.Role{identity.RoleAdmin, identity.RoleClient}
	readers := []identity.Role{identity.RoleAdmin, identity.RoleClient, identity.RoleNode,
		identity.RoleCertifier, identity.RoleWorker}
	return map[string]contract.Method{
		"subfile":    {Roles: writers, Run: c.subfile},
		"querfile":   {Roles: readers, Run: c.querfile},
		"keyrequest": {Roles: writers, Run: c.keyRequest},
		"keyanswer":  {Roles: []identity.Role{identity.RoleNode}, Run: c.keyAnswer},
		"purge":      {Roles: writers, Run: c.purge},
	}
}

// NormalizeKeyword lowercases and trims a keyword and checks its length.
func NormalizeKeyword(k string) (string, error) {
	k = strings.ToLower(strings.TrimSpace(k))
	if k == "" || len(k) > MaxKeywordLen || strings.ContainsRune(k, 0) || !utf8.ValidString(k) {
		return "", txerr.New(txerr.BadArgs, "keyword must be 1-%d bytes of UTF-8 without NUL", MaxKeywordLen)
	}
	return k, nil
}

// HashRS is the paper's h(r, s): SHA-256 of the signature's r||s bytes.
func HashRS(sig []byte) string {
	h := sha256.Sum256(sig)
	return hex.EncodeToString(h[:])
}

func (c Contract) subfile(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a SubfileArgs
	if err := contract.DecodeArgs("subfile", raw, &a); err != nil {
		return nil, err
	}
	id, err := cid.Decode(a.HashAddress)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "subfile: hash address is not a CID: %v", err)
	}
	if len(a.Keywords) == 0 || len(a.Keywords) > MaxKeywords {
		return nil, txerr.New(txerr.BadArgs, "subfile: want 1-%d keywords, got %d", MaxKeywords, len(a.Keywords))
	}
	if len(a.Summary) > MaxSummary || !utf8.ValidString(a.Summary) {
		return nil, txerr.New(txerr.BadArgs, "subfile: summary must be UTF-8 of at most %d bytes", MaxSummary)
	}
	if len(a.Type) > MaxType || !utf8.ValidString(a.Type) {
		return nil, txerr.New(txerr.BadArgs, "subfile: type must be UTF-8 of at most %d bytes", MaxType)
	}
	kws := make([]string, 0, len(a.Keywords))
	seen := map[string]bool{}
	for _, k := range a.Keywords {
		n, err := NormalizeKeyword(k)
		if err != nil {
			return nil, txerr.New(txerr.BadArgs, "subfile: %s", txerr.Message(err))
		}
		if !seen[n] {
			seen[n] = true
			kws = append(kws, n)
		}
	}
	var custodian contract.Fingerprint
	if a.Custodian != "" {
		if custodian, err = contract.ParseFingerprint(a.Custodian); err != nil {
			return nil, txerr.New(txerr.BadArgs, "subfile: custodian: %v", err)
		}
	}
	txn := ctx.TxNumber().String()
	e := Entry{Creator: ctx.CallerFingerprint().String(), Custodian: custodian.String(),
		Holder: ctx.Caller.Org, ID: ctx.Caller.ID, Signature: hex.EncodeToString(ctx.Signature),
		SubmitB: HashRS(ctx.Signature), HashAddress: id.String(), Summary: a.Summary, Keywords: kws,
		Size: a.Size, Type: a.Type, Timestamp: ctx.Time.UnixNano(), TXNumber: txn, Height: ctx.Height,
		Version: Version,
	}
	if err := st.Set(entryKey(ctx.TxID[:]), canon.MustMarshal(e)); err != nil {
		return nil, err
	}
	for _, k := range kws {
		if err := st.Set(join(pKeyword, k, ctx.TxID[:]), []byte{1}); err != nil {
			return nil, err
		}
	}
	if err := st.Set(join(pCID, e.HashAddress, ctx.TxID[:]), []byte{1}); err != nil {
		return nil, err
	}
	ctx.Emit("subfile", "", contract.Attr{Key: "holder", Value: e.Holder}, contract.Attr{Key: "hash_address", Value: e.HashAddress})
	// The entry itself is in state (query "entry"); the receipt stays small
	// so the transaction index does not store every entry twice.
	return contract.Result(SubfileReceipt{TXNumber: txn, SubmitB: e.SubmitB, HashAddress: e.HashAddress, Keywords: kws})
}

// SubfileReceipt is what Subfile returns.
type SubfileReceipt struct {
	TXNumber    string   `cbor:"tx_number" json:"tx_number"`
	SubmitB     string   `cbor:"submit_b" json:"submit_b"`
	HashAddress string   `cbor:"hash_address" json:"hash_address"`
	Keywords    []string `cbor:"keywords" json:"keywords"`
}

func (c Contract) querfile(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	res, kw, err := find(st, raw, "querfile")
	if err != nil {
		return nil, err
	}
	res.QueryA = HashRS(ctx.Signature)
	rec := QueryRecord{ID: ctx.Caller.ID, Org: ctx.Caller.Org, Keyword: kw, QueryA: res.QueryA,
		Matches: len(res.Entries), Timestamp: ctx.Time.UnixNano(), TXNumber: ctx.TxNumber().String()}
	if err := st.Set(append(append([]byte{}, pQuery...), ctx.TxID[:]...), canon.MustMarshal(rec)); err != nil {
		return nil, err
	}
	return contract.Result(res)
}

func find(st contract.State, raw []byte, method string) (*FindResult, string, error) {
	var a FindArgs
	if err := contract.DecodeArgs(method, raw, &a); err != nil {
		return nil, "", err
	}
	kw, err := NormalizeKeyword(a.Keyword)
	if err != nil {
		return nil, "", txerr.New(txerr.BadArgs, "%s: %s", method, txerr.Message(err))
	}
	limit := a.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		return nil, "", txerr.New(txerr.BadArgs, "%s: limit %d above %d", method, limit, MaxLimit)
	}
	res := &FindResult{Entries: []Entry{}}
	prefix := join(pKeyword, kw, nil)
	var ierr error
	err = st.Iterate(prefix, func(k, _ []byte) bool {
		if len(res.Entries) == limit {
			res.More = true
			return false
		}
		raw, err := st.Get(entryKey(k[len(prefix):]))
		if err != nil || raw == nil {
			ierr = txerr.New(txerr.Internal, "index entry for keyword %q missing", kw)
			return false
		}
		var e Entry
		if err := canon.Unmarshal(raw, &e); err != nil {
			ierr = txerr.New(txerr.Internal, "index entry: %v", err)
			return false
		}
		res.Entries = append(res.Entries, e)
		return true
	})
	if err == nil {
		err = ierr
	}
	return res, kw, err
}

// Query implements contract.Contract: "lookup" (by keyword) and "entry" (by
// transaction number).
func (c Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	switch method {
	case "lookup":
		res, _, err := find(st, raw, "lookup")
		if err != nil {
			return nil, err
		}
		return contract.Result(res)
	case "entry":
		var a PurgeArgs
		if err := contract.DecodeArgs("entry", raw, &a); err != nil {
			return nil, err
		}
		e, _, err := loadEntry(st, "entry", a.TXNumber)
		if err != nil {
			return nil, err
		}
		return contract.Result(e)
	case "by_cid":
		var a struct {
			CID string `cbor:"cid"`
		}
		if err := contract.DecodeArgs("by_cid", raw, &a); err != nil {
			return nil, err
		}
		c, err := cid.Decode(a.CID)
		if err != nil {
			return nil, txerr.New(txerr.BadArgs, "by_cid: %v", err)
		}
		prefix := join(pCID, c.String(), nil)
		res := FindResult{Entries: []Entry{}}
		var ierr error
		err = st.Iterate(prefix, func(k, _ []byte) bool {
			e, _, lerr := loadEntry(st, "by_cid", hex.EncodeToString(k[len(prefix):]))
			if lerr != nil {
				ierr = lerr
				return false
			}
			res.Entries = append(res.Entries, *e)
			return len(res.Entries) < MaxLimit
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return nil, err
		}
		return contract.Result(res)
	case "transfers":
		var a PurgeArgs
		if err := contract.DecodeArgs("transfers", raw, &a); err != nil {
			return nil, err
		}
		_, id, err := loadEntry(st, "transfers", a.TXNumber)
		if err != nil {
			return nil, err
		}
		key := id.Bytes()
		return contract.List[TransferRecord](st, append(append([]byte{}, pXfer...), key[:]...), nil)
	}
	return nil, txerr.New(txerr.UnknownMethod, "index has no query %q", method)
}

// loadEntry reads the entry of a tx number given in hex, returning it with
// the tx number in canonical form.
func loadEntry(st contract.State, method, txn string) (*Entry, contract.TxID, error) {
	id, err := contract.ParseTxID(txn)
	if err != nil {
		return nil, "", txerr.New(txerr.BadArgs, "%s: tx_number must be 64 hex digits", method)
	}
	key := id.Bytes()
	raw, err := st.Get(entryKey(key[:]))
	if err != nil {
		return nil, "", err
	}
	if raw == nil {
		return nil, "", txerr.New(txerr.NotFound, "%s: no index entry with tx number %s", method, id)
	}
	var e Entry
	if err := canon.Unmarshal(raw, &e); err != nil {
		return nil, "", txerr.New(txerr.Internal, "index entry %s: %v", id, err)
	}
	return &e, id, nil
}

func hash32(method, name, h string) (contract.Hash, error) {
	c, err := contract.ParseHash(h)
	if err != nil {
		return "", txerr.New(txerr.BadArgs, "%s: %s must be 64 hex digits", method, name)
	}
	return c, nil
}

// loadTransfer returns the record of a request, or a fresh one.
func loadTransfer(st contract.State, txn contract.TxID, req contract.Hash) (TransferRecord, error) {
	r := TransferRecord{TXNumber: txn.String(), Request: req.String()}
	old, err := st.Get(xferKey(txn, req))
	if err != nil || old == nil {
		return r, err
	}
	if err := canon.Unmarshal(old, &r); err != nil {
		return r, txerr.New(txerr.Internal, "transfer record: %v", err)
	}
	return r, nil
}

func xferKey(txn contract.TxID, req contract.Hash) []byte {
	t, r := txn.Bytes(), req.Bytes()
	return append(append(append([]byte{}, pXfer...), t[:]...), r[:]...)
}

func (c Contract) keyRequest(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a KeyRequestArgs
	if err := contract.DecodeArgs("keyrequest", raw, &a); err != nil {
		return nil, err
	}
	e, txn, err := loadEntry(st, "keyrequest", a.TXNumber)
	if err != nil {
		return nil, err
	}
	req, err := hash32("keyrequest", "request", a.Request)
	if err != nil {
		return nil, err
	}
	// The custodian's answer may be recorded first; the request then
	// completes its record.
	r, err := loadTransfer(st, txn, req)
	if err != nil {
		return nil, err
	}
	if r.Requester != "" {
		return nil, txerr.New(txerr.Rejected, "keyrequest: request %s is already recorded", req)
	}
	r.Requester, r.RequestAt = ctx.CallerFingerprint().String(), ctx.Time.UnixNano()
	if err := st.Set(xferKey(txn, req), canon.MustMarshal(r)); err != nil {
		return nil, err
	}
	ctx.Emit("key_requested", e.Holder, contract.Attr{Key: "tx_number", Value: txn.String()},
		contract.Attr{Key: "requester", Value: ctx.Caller.ID + "@" + ctx.Caller.Org})
	return contract.Result(r)
}

func (c Contract) keyAnswer(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a KeyAnswerArgs
	if err := contract.DecodeArgs("keyanswer", raw, &a); err != nil {
		return nil, err
	}
	e, txn, err := loadEntry(st, "keyanswer", a.TXNumber)
	if err != nil {
		return nil, err
	}
	// Compared in canonical form, so an entry stored with an upper-case
	// custodian before custodians were normalized is answerable too.
	if custodian, err := contract.ParseFingerprint(e.Custodian); err != nil || custodian != ctx.CallerFingerprint() {
		return nil, txerr.New(txerr.RoleDenied, "keyanswer: only the entry's custodian answers for it")
	}
	req, err := hash32("keyanswer", "request", a.Request)
	if err != nil {
		return nil, err
	}
	ans, err := hash32("keyanswer", "answer", a.Answer)
	if err != nil {
		return nil, err
	}
	if len(a.Reason) > 128 {
		return nil, txerr.New(txerr.BadArgs, "keyanswer: reason longer than 128 bytes")
	}
	// An answer may precede the requester's own record of the request in
	// the chain; it then opens the record.
	r, err := loadTransfer(st, txn, req)
	if err != nil {
		return nil, err
	}
	if r.Answer != "" {
		return nil, txerr.New(txerr.Rejected, "keyanswer: request %s was already answered", req)
	}
	r.Answer, r.Granted, r.Reason, r.AnswerAt = ans.String(), a.Granted, a.Reason, ctx.Time.UnixNano()
	if err := st.Set(xferKey(txn, req), canon.MustMarshal(r)); err != nil {
		return nil, err
	}
	verdict := "granted"
	if !a.Granted {
		verdict = "denied"
	}
	ctx.Emit("key_"+verdict, "", contract.Attr{Key: "tx_number", Value: txn.String()}, contract.Attr{Key: "request", Value: req.String()})
	return contract.Result(r)
}

func (c Contract) purge(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a PurgeArgs
	if err := contract.DecodeArgs("purge", raw, &a); err != nil {
		return nil, err
	}
	e, txn, err := loadEntry(st, "purge", a.TXNumber)
	if err != nil {
		return nil, err
	}
	owner := e.Creator == ctx.CallerFingerprint().String()
	orgAdmin := e.Holder == ctx.Caller.Org && ctx.Caller.Role == identity.RoleAdmin
	if !owner && !orgAdmin {
		return nil, txerr.New(txerr.RoleDenied, "purge: only the entry's owner or an admin of %s may purge it", e.Holder)
	}
	if e.Purged {
		return nil, txerr.New(txerr.Rejected, "purge: entry %s was already purged at height %d", txn, e.PurgedAt)
	}
	e.Purged, e.PurgedAt = true, ctx.Height
	key := txn.Bytes()
	if err := st.Set(entryKey(key[:]), canon.MustMarshal(e)); err != nil {
		return nil, err
	}
	ctx.Emit("purged", "", contract.Attr{Key: "tx_number", Value: txn.String()}, contract.Attr{Key: "hash_address", Value: e.HashAddress})
	return contract.Result(e)
}

func entryKey(txid []byte) []byte { return append(append([]byte{}, pEntry...), txid...) }

func join(prefix, s string, tail []byte) []byte {
	out := make([]byte, 0, len(prefix)+len(s)+1+len(tail))
	out = append(append(append(out, prefix...), s...), 0)
	return append(out, tail...)
}
