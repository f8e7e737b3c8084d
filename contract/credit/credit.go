// Package credit is the consortium's credit ledger: a balance per member
// org, and per member where its org opens an account for one, moved by
// signed transfers.
//
// Credits come into existence only by a vote of more than half of the
// member orgs' admins (vote_mint, one vote per org as registry.vote_org
// counts them), typically as an org is admitted; nothing else creates or
// destroys them, so the sum of all balances and escrows is the supply.
// Balances are uint64 and never go negative; every movement is an event.
//
// # Accounts
//
// An org's account exists for every member org of the registry. A member's
// account exists once an admin of its org opened it (open_account): an org
// decides whether its members hold credits of their own. An org's admins
// spend from the org's account and from its members' accounts; a member
// spends from its own.
//
// # Escrow
//
// A contract that holds credits for a while (paych's deposits) is a
// holder, named when this contract is made. From its own methods it calls
// lock, which moves credits from an account the transaction's signer
// controls into the holder's escrow, and release, which moves them from
// the holder's escrow to any account that can receive. A holder therefore
// never pays out more than was locked with it, and never spends an account
// its signer could not spend directly.
package credit

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "credit"

// MaxMemo bounds a memo in bytes.
const MaxMemo = 140

// Key layout under the contract's prefix: a/<org>\0<member> accounts (the
// org's own with an empty member), e/<holder> escrows, v/<id>\0<org> mint
// votes, m/<id> mints made, and supply.
const (
	pAccount = "a/"
	pEscrow  = "e/"
	pVote    = "v/"
	pMint    = "m/"
	kSupply  = "supply"
)

// Account is a balance.
type Account struct {
	Org     string `cbor:"org" json:"org"`
	Member  string `cbor:"member,omitempty" json:"member,omitempty"` // "" for the org's own account
	Balance uint64 `cbor:"balance" json:"balance"`
}

// TransferArgs moves credits from an account of the caller's org.
type TransferArgs struct {
	From     string `cbor:"from,omitempty"` // a member account of the caller's org; "" its org account
	ToOrg    string `cbor:"to_org"`
	ToMember string `cbor:"to_member,omitempty"`
	Amount   uint64 `cbor:"amount"`
	Memo     string `cbor:"memo,omitempty"`
}

// OpenAccountArgs opens a member's account in the caller's org.
type OpenAccountArgs struct {
	Member string `cbor:"member"`
}

// BalanceArgs names an account (query "balance").
type BalanceArgs struct {
	Org    string `cbor:"org"`
	Member string `cbor:"member,omitempty"`
}

// Contract is the credit contract.
type Contract struct {
	holders []string
}

// New returns the contract; holders name the contracts that may lock and
// release credits (see Escrow in the package documentation).
func New(holders ...string) *Contract { return &Contract{holders: holders} }

// Name implements contract.Contract.
func (c *Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c *Contract) Methods() map[string]contract.Method {
	admin := []identity.Role{identity.RoleAdmin}
	spenders := []identity.Role{identity.RoleAdmin, identity.RoleClient, identity.RoleNode, identity.RoleWorker}
	return map[string]contract.Method{
		"transfer":     {Roles: spenders, Run: c.transfer},
		"open_account": {Roles: admin, Run: c.openAccount},
		"vote_mint":    {Roles: admin, Run: c.voteMint},
		"lock":         {Callers: c.holders, Run: c.lock},
		"release":      {Callers: c.holders, Run: c.release},
	}
}

// AccountName is an account as events and messages show it: the org, or
// org/member for a member's account.
func AccountName(org, member string) string {
	if member == "" {
		return org
	}
	return org + "/" + member
}

func accountKey(org, member string) []byte { return []byte(pAccount + org + "\x00" + member) }

// validAccount checks an account's name: an org without NUL (keys join
// org and member with one) and a member ID or "".
func validAccount(org, member string) error {
	if org == "" || strings.ContainsRune(org, 0) || !utf8.ValidString(org) {
		return txerr.New(txerr.BadArgs, "org %q is not an org name", org)
	}
	if member != "" && !identity.ValidMemberID(member) {
		return txerr.New(txerr.BadArgs, "member %q is not a member ID", member)
	}
	return nil
}

// controls reports whether the caller may spend from an account: an admin
// of its org, or the member whose account it is.
func controls(caller contract.Caller, org, member string) bool {
	if caller.Org != org || caller.Fingerprint == (identity.Fingerprint{}) {
		return false
	}
	return caller.Role == identity.RoleAdmin || member != "" && caller.ID == member
}

// Receivable checks that an account can be credited: its org is a member
// org of the registry and, for a member's account, its org opened it.
// Other contracts call it before they promise credits to an account.
func Receivable(ctx *contract.Context, org, member string) error {
	if err := validAccount(org, member); err != nil {
		return err
	}
	ok, err := registry.HasOrg(ctx.Read(registry.Name), org)
	if err != nil {
		return err
	}
	if !ok {
		return txerr.New(txerr.NotFound, "org %s is not a member of the channel", org)
	}
	if member == "" {
		return nil
	}
	raw, err := ctx.Read(Name).Get(accountKey(org, member))
	if err != nil {
		return err
	}
	if raw == nil {
		return txerr.New(txerr.NotFound, "%s has no account: its org's admin opens it", AccountName(org, member))
	}
	return nil
}

// load returns an account, zero if it holds nothing yet.
func load(st contract.State, org, member string) (*Account, error) {
	raw, err := st.Get(accountKey(org, member))
	if err != nil {
		return nil, err
	}
	a := &Account{Org: org, Member: member}
	if raw != nil {
		if err := canon.Unmarshal(raw, a); err != nil {
			return nil, txerr.New(txerr.Internal, "account %s: %v", AccountName(org, member), err)
		}
	}
	return a, nil
}

func save(st contract.State, a *Account) error {
	return st.Set(accountKey(a.Org, a.Member), canon.MustMarshal(a))
}

// debit takes amount from an account, refusing to go below zero.
func debit(st contract.State, org, member string, amount uint64) (*Account, error) {
	a, err := load(st, org, member)
	if err != nil {
		return nil, err
	}
	if a.Balance < amount {
		return nil, txerr.New(txerr.Rejected, "account %s holds %d, not %d", AccountName(org, member), a.Balance, amount)
	}
	a.Balance -= amount
	return a, save(st, a)
}

// deposit adds amount to an account. Balances add up to the supply, which
// is a uint64, so a sum that overflows is a broken invariant.
func deposit(st contract.State, org, member string, amount uint64) (*Account, error) {
	a, err := load(st, org, member)
	if err != nil {
		return nil, err
	}
	if a.Balance+amount < a.Balance {
		return nil, txerr.New(txerr.Internal, "account %s would overflow", AccountName(org, member))
	}
	a.Balance += amount
	return a, save(st, a)
}

func amountAttr(n uint64) contract.Attr {
	return contract.Attr{Key: "amount", Value: strconv.FormatUint(n, 10)}
}

func validMemo(method, m string) error {
	if len(m) > MaxMemo || !utf8.ValidString(m) {
		return txerr.New(txerr.BadArgs, "%s: memo must be at most %d bytes of UTF-8", method, MaxMemo)
	}
	return nil
}

func (c *Contract) transfer(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a TransferArgs
	if err := contract.DecodeArgs("transfer", raw, &a); err != nil {
		return nil, err
	}
	if a.Amount == 0 {
		return nil, txerr.New(txerr.BadArgs, "transfer: amount must be positive")
	}
	if err := validMemo("transfer", a.Memo); err != nil {
		return nil, err
	}
	if a.From != "" && !identity.ValidMemberID(a.From) {
		return nil, txerr.New(txerr.BadArgs, "transfer: from %q is not a member ID", a.From)
	}
	from, to := AccountName(ctx.Caller.Org, a.From), AccountName(a.ToOrg, a.ToMember)
	if ctx.Caller.Org == a.ToOrg && a.From == a.ToMember {
		return nil, txerr.New(txerr.BadArgs, "transfer: from %s to itself", from)
	}
	if !controls(ctx.Caller, ctx.Caller.Org, a.From) {
		return nil, txerr.New(txerr.RoleDenied, "transfer: %s may not spend from %s", ctx.Caller.ID, from)
	}
	if a.From != "" {
		if v, err := st.Get(accountKey(ctx.Caller.Org, a.From)); err != nil {
			return nil, err
		} else if v == nil {
			return nil, txerr.New(txerr.NotFound, "transfer: %s has no account", from)
		}
	}
	if err := Receivable(ctx, a.ToOrg, a.ToMember); err != nil {
		return nil, err
	}
	src, err := debit(st, ctx.Caller.Org, a.From, a.Amount)
	if err != nil {
		return nil, err
	}
	dst, err := deposit(st, a.ToOrg, a.ToMember, a.Amount)
	if err != nil {
		return nil, err
	}
	attrs := []contract.Attr{{Key: "from", Value: from}, {Key: "to", Value: to}, amountAttr(a.Amount)}
	if a.Memo != "" {
		attrs = append(attrs, contract.Attr{Key: "memo", Value: a.Memo})
	}
	ctx.Emit("transferred", "", attrs...)
	return contract.Result(map[string]any{"from": src, "to": dst})
}

func (c *Contract) openAccount(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a OpenAccountArgs
	if err := contract.DecodeArgs("open_account", raw, &a); err != nil {
		return nil, err
	}
	if !identity.ValidMemberID(a.Member) {
		return nil, txerr.New(txerr.BadArgs, "open_account: %q is not a member ID", a.Member)
	}
	k := accountKey(ctx.Caller.Org, a.Member)
	if old, err := st.Get(k); err != nil {
		return nil, err
	} else if old != nil {
		return nil, txerr.New(txerr.Rejected, "open_account: %s is open", AccountName(ctx.Caller.Org, a.Member))
	}
	acct := &Account{Org: ctx.Caller.Org, Member: a.Member}
	if err := save(st, acct); err != nil {
		return nil, err
	}
	ctx.Emit("account_opened", "", contract.Attr{Key: "account", Value: AccountName(acct.Org, acct.Member)})
	return contract.Result(acct)
}
