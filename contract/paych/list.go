package paych

import (
	"strings"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/txerr"
)

// Listing bounds of the "channels" query.
const (
	DefaultList = 100
	MaxList     = 1000
)

// ListArgs lists an org's channels (query "channels"): those it pays
// from and those it is paid by, in channel ID order, from after on.
type ListArgs struct {
	Org   string `cbor:"org"`
	After string `cbor:"after,omitempty"` // a channel ID; "" from the first
	Limit int    `cbor:"limit,omitempty"` // 0: DefaultList; at most MaxList
	// State keeps only channels in this state ("" all).
	State string `cbor:"state,omitempty"`
}

// List is the "channels" query's result.
type List struct {
	Channels []Channel `cbor:"channels" json:"channels"`
	// More says that channels after the last one listed were left out.
	More bool `cbor:"more" json:"more"`
}

// orgKey indexes a channel under each org on it: o/<org>\0<id>. Org
// names hold no NUL (credit.Receivable and the registry refuse one).
func orgKey(org, id string) []byte { return []byte(pOrg + org + "\x00" + id) }

// index records ch under its payer's and its payee's org.
func index(st contract.State, ch *Channel) error {
	if err := st.Set(orgKey(ch.PayerOrg, ch.ID), []byte{1}); err != nil {
		return err
	}
	if ch.PayeeOrg == ch.PayerOrg {
		return nil
	}
	return st.Set(orgKey(ch.PayeeOrg, ch.ID), []byte{1})
}

func (c *Contract) list(st contract.State, raw []byte) ([]byte, error) {
	var a ListArgs
	if err := contract.DecodeArgs("channels", raw, &a); err != nil {
		return nil, err
	}
	switch {
	case a.Org == "" || strings.ContainsRune(a.Org, 0):
		return nil, txerr.New(txerr.BadArgs, "channels: org %q is not an org name", a.Org)
	case a.Limit < 0 || a.Limit > MaxList:
		return nil, txerr.New(txerr.BadArgs, "channels: limit %d, want 0 to %d", a.Limit, MaxList)
	case a.State != "" && a.State != StateOpen && a.State != StateSettling && a.State != StateClosed:
		return nil, txerr.New(txerr.BadArgs, "channels: state %q, want %s, %s or %s", a.State, StateOpen, StateSettling, StateClosed)
	}
	limit := a.Limit
	if limit == 0 {
		limit = DefaultList
	}
	prefix := []byte(pOrg + a.Org + "\x00")
	out := List{Channels: []Channel{}}
	var ferr error
	err := st.Iterate(prefix, func(k, _ []byte) bool {
		id := string(k[len(prefix):])
		if id <= a.After {
			return true
		}
		ch, err := load(st, "channels", id)
		if err != nil {
			ferr = err
			return false
		}
		if a.State != "" && ch.State != a.State {
			return true
		}
		if len(out.Channels) == limit {
			out.More = true
			return false
		}
		out.Channels = append(out.Channels, *ch)
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return contract.Result(out)
}
