package credit

import (
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// MoveArgs are the arguments of lock and release: the account credits
// leave (lock) or reach (release), the amount, and the holder's reference
// for the events (a channel ID).
type MoveArgs struct {
	Org    string `cbor:"org"`
	Member string `cbor:"member,omitempty"`
	Amount uint64 `cbor:"amount"`
	Ref    string `cbor:"ref"`
}

// Escrow is what a holder contract holds.
type Escrow struct {
	Holder string `cbor:"holder" json:"holder"`
	Amount uint64 `cbor:"amount" json:"amount"`
}

func escrowKey(holder string) []byte { return []byte(pEscrow + holder) }

func loadEscrow(st contract.State, holder string) (*Escrow, error) {
	raw, err := st.Get(escrowKey(holder))
	if err != nil {
		return nil, err
	}
	e := &Escrow{Holder: holder}
	if raw != nil {
		if err := canon.Unmarshal(raw, e); err != nil {
			return nil, txerr.New(txerr.Internal, "escrow of %s: %v", holder, err)
		}
	}
	return e, nil
}

func decodeMove(method string, ctx *contract.Context, raw []byte) (MoveArgs, error) {
	var a MoveArgs
	if err := contract.DecodeArgs(method, raw, &a); err != nil {
		return a, err
	}
	if ctx.Caller.Via == "" {
		return a, txerr.New(txerr.RoleDenied, "%s: only a holder contract moves escrow", method)
	}
	if a.Amount == 0 {
		return a, txerr.New(txerr.BadArgs, "%s: amount must be positive", method)
	}
	if len(a.Ref) > 128 || !utf8.ValidString(a.Ref) {
		return a, txerr.New(txerr.BadArgs, "%s: ref must be at most 128 bytes of UTF-8", method)
	}
	return a, validAccount(a.Org, a.Member)
}

// lock moves credits from an account the transaction's signer controls
// into the calling contract's escrow.
func (c *Contract) lock(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	a, err := decodeMove("lock", ctx, raw)
	if err != nil {
		return nil, err
	}
	from := AccountName(a.Org, a.Member)
	if ctx.Caller.Fingerprint == (identity.Fingerprint{}) {
		return nil, txerr.New(txerr.RoleDenied, "lock: no member signed for credits of %s", from)
	}
	if !controls(ctx.Caller, a.Org, a.Member) {
		return nil, txerr.New(txerr.RoleDenied, "%s may not spend from %s", ctx.Caller.ID, from)
	}
	if _, err := debit(st, a.Org, a.Member, a.Amount); err != nil {
		return nil, err
	}
	e, err := loadEscrow(st, ctx.Caller.Via)
	if err != nil {
		return nil, err
	}
	if e.Amount+a.Amount < e.Amount {
		return nil, txerr.New(txerr.Internal, "escrow of %s would overflow", e.Holder)
	}
	e.Amount += a.Amount
	if err := st.Set(escrowKey(e.Holder), canon.MustMarshal(e)); err != nil {
		return nil, err
	}
	ctx.Emit("locked", "", contract.Attr{Key: "from", Value: from}, contract.Attr{Key: "holder", Value: e.Holder},
		amountAttr(a.Amount), contract.Attr{Key: "ref", Value: a.Ref})
	return contract.Result(e)
}

// release moves credits from the calling contract's escrow to an account.
func (c *Contract) release(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	a, err := decodeMove("release", ctx, raw)
	if err != nil {
		return nil, err
	}
	e, err := loadEscrow(st, ctx.Caller.Via)
	if err != nil {
		return nil, err
	}
	if e.Amount < a.Amount {
		return nil, txerr.New(txerr.Rejected, "release: %s holds %d in escrow, not %d", e.Holder, e.Amount, a.Amount)
	}
	if err := Receivable(ctx, a.Org, a.Member); err != nil {
		return nil, err
	}
	e.Amount -= a.Amount
	if err := st.Set(escrowKey(e.Holder), canon.MustMarshal(e)); err != nil {
		return nil, err
	}
	if _, err := deposit(st, a.Org, a.Member, a.Amount); err != nil {
		return nil, err
	}
	ctx.Emit("released", "", contract.Attr{Key: "to", Value: AccountName(a.Org, a.Member)}, contract.Attr{Key: "holder", Value: e.Holder},
		amountAttr(a.Amount), contract.Attr{Key: "ref", Value: a.Ref})
	return contract.Result(e)
}

// Query implements contract.Contract: "balance", "accounts" (of an org),
// "supply" (with the escrows) and "mint".
func (c *Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	switch method {
	case "balance":
		var a BalanceArgs
		if err := contract.DecodeArgs("balance", raw, &a); err != nil {
			return nil, err
		}
		if err := validAccount(a.Org, a.Member); err != nil {
			return nil, err
		}
		if a.Member != "" {
			if v, err := st.Get(accountKey(a.Org, a.Member)); err != nil {
				return nil, err
			} else if v == nil {
				return nil, txerr.New(txerr.NotFound, "%s has no account", AccountName(a.Org, a.Member))
			}
		}
		acct, err := load(st, a.Org, a.Member)
		if err != nil {
			return nil, err
		}
		return contract.Result(acct)
	case "accounts":
		var a BalanceArgs
		if err := contract.DecodeArgs("accounts", raw, &a); err != nil {
			return nil, err
		}
		return contract.List[Account](st, accountKey(a.Org, ""), nil)
	case "supply":
		supply, err := Supply(st)
		if err != nil {
			return nil, err
		}
		escrows := []Escrow{}
		var derr error
		if err := st.Iterate([]byte(pEscrow), func(_, v []byte) bool {
			var e Escrow
			derr = canon.Unmarshal(v, &e)
			escrows = append(escrows, e)
			return derr == nil
		}); err != nil {
			return nil, err
		}
		if derr != nil {
			return nil, txerr.New(txerr.Internal, "escrow record: %v", derr)
		}
		return contract.Result(map[string]any{"supply": supply, "escrow": escrows})
	case "mint":
		var a MintIDArgs
		if err := contract.DecodeArgs("mint", raw, &a); err != nil {
			return nil, err
		}
		v, err := st.Get(mintKey(a.ID))
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, txerr.New(txerr.NotFound, "no mint %q was made", a.ID)
		}
		return v, nil
	}
	return nil, txerr.New(txerr.UnknownMethod, "credit has no query %q", method)
}
