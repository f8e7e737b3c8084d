package credit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/txerr"
)

// VoteMintArgs is one member org's vote to create Amount credits in Org's
// account. The credits are created when more than half of the member orgs
// voted for exactly the same proposal (ID, org, amount and memo); an ID
// mints once.
type VoteMintArgs struct {
	ID     string `cbor:"id"`
	Org    string `cbor:"org"`
	Amount uint64 `cbor:"amount"`
	Memo   string `cbor:"memo,omitempty"`
}

// Mint is a mint that was made.
type Mint struct {
	ID     string `cbor:"id" json:"id"`
	Org    string `cbor:"org" json:"org"`
	Amount uint64 `cbor:"amount" json:"amount"`
	Memo   string `cbor:"memo,omitempty" json:"memo,omitempty"`
	Height int64  `cbor:"height" json:"height"`
	Votes  int    `cbor:"votes" json:"votes"`
	Orgs   int    `cbor:"orgs" json:"orgs"`
}

// MintIDArgs names a mint (query "mint").
type MintIDArgs struct {
	ID string `cbor:"id"`
}

func voteKey(id, org string) []byte { return []byte(pVote + id + "\x00" + org) }
func mintKey(id string) []byte      { return []byte(pMint + id) }

func validMintID(id string) bool {
	return id != "" && len(id) <= 64 && utf8.ValidString(id) && !strings.ContainsRune(id, 0)
}

// Supply is the number of credits in existence.
func Supply(st contract.State) (uint64, error) {
	raw, err := st.Get([]byte(kSupply))
	if err != nil || raw == nil {
		return 0, err
	}
	if len(raw) != 8 {
		return 0, txerr.New(txerr.Internal, "supply record is %d bytes", len(raw))
	}
	return binary.BigEndian.Uint64(raw), nil
}

func (c *Contract) voteMint(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a VoteMintArgs
	if err := contract.DecodeArgs("vote_mint", raw, &a); err != nil {
		return nil, err
	}
	if !validMintID(a.ID) {
		return nil, txerr.New(txerr.BadArgs, "vote_mint: id must be 1-64 bytes of UTF-8 without NUL")
	}
	if a.Amount == 0 {
		return nil, txerr.New(txerr.BadArgs, "vote_mint: amount must be positive")
	}
	if err := validMemo("vote_mint", a.Memo); err != nil {
		return nil, err
	}
	if err := Receivable(ctx, a.Org, ""); err != nil {
		return nil, err
	}
	if old, err := st.Get(mintKey(a.ID)); err != nil {
		return nil, err
	} else if old != nil {
		var m Mint
		if err := canon.Unmarshal(old, &m); err != nil {
			return nil, txerr.New(txerr.Internal, "mint %s: %v", a.ID, err)
		}
		return nil, txerr.New(txerr.Rejected, "vote_mint: mint %q was made at height %d", a.ID, m.Height)
	}
	supply, err := Supply(st)
	if err != nil {
		return nil, err
	}
	if supply+a.Amount < supply {
		return nil, txerr.New(txerr.Rejected, "vote_mint: %d more credits would take the supply of %d past 2^64-1", a.Amount, supply)
	}
	proposal := sha256.Sum256(canon.MustMarshal(a))
	if err := st.Set(voteKey(a.ID, ctx.Caller.Org), proposal[:]); err != nil {
		return nil, err
	}
	orgs, err := registry.Orgs(ctx.Read(registry.Name))
	if err != nil {
		return nil, err
	}
	// Only votes of member orgs for this very proposal count; orgs are
	// never removed, so every stored vote is a member org's.
	var voters [][]byte
	votes := 0
	if err := st.Iterate(voteKey(a.ID, ""), func(k, v []byte) bool {
		voters = append(voters, append([]byte{}, k...))
		if bytes.Equal(v, proposal[:]) {
			votes++
		}
		return true
	}); err != nil {
		return nil, err
	}
	ctx.Emit("mint_voted", "", contract.Attr{Key: "id", Value: a.ID}, contract.Attr{Key: "org", Value: a.Org},
		amountAttr(a.Amount), contract.Attr{Key: "voter", Value: ctx.Caller.Org},
		contract.Attr{Key: "votes", Value: strconv.Itoa(votes)}, contract.Attr{Key: "orgs", Value: strconv.Itoa(len(orgs))})
	minted := votes*2 > len(orgs)
	if minted {
		if err := c.mint(ctx, st, a, supply, votes, len(orgs), voters); err != nil {
			return nil, err
		}
	}
	return contract.Result(map[string]any{"id": a.ID, "votes": votes, "orgs": len(orgs), "minted": minted})
}

// mint creates the credits of an adopted proposal and forgets its votes.
func (c *Contract) mint(ctx *contract.Context, st contract.State, a VoteMintArgs, supply uint64, votes, orgs int, voters [][]byte) error {
	for _, k := range voters {
		if err := st.Delete(k); err != nil {
			return err
		}
	}
	m := Mint{ID: a.ID, Org: a.Org, Amount: a.Amount, Memo: a.Memo, Height: ctx.Height, Votes: votes, Orgs: orgs}
	if err := st.Set(mintKey(a.ID), canon.MustMarshal(m)); err != nil {
		return err
	}
	if err := st.Set([]byte(kSupply), binary.BigEndian.AppendUint64(nil, supply+a.Amount)); err != nil {
		return err
	}
	if _, err := deposit(st, a.Org, "", a.Amount); err != nil {
		return err
	}
	ctx.Emit("minted", "", contract.Attr{Key: "id", Value: a.ID}, contract.Attr{Key: "to", Value: a.Org}, amountAttr(a.Amount),
		contract.Attr{Key: "supply", Value: strconv.FormatUint(supply+a.Amount, 10)})
	return nil
}
