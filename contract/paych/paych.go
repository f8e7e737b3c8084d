// Package paych is the payment-channel contract: a payer locks a deposit
// of credits (contract/credit) for a payee, pays it off chain with
// vouchers it signs (package voucher), and the chain settles only the
// latest one. Paper 004's reward system: a micro-payment per result with
// two or three transactions per channel instead of one per result.
//
// # Lifecycle
//
//		open --settle by the payer--> settling (settle delay) --collect--> closed
//		open --settle by the payee (with its last voucher)--> settling, collectable at once
//		open --expiry, at block end--> settling (settle delay) --at block end--> closed
//
//	  - open: the payer (the calling member, whose key signs the vouchers)
//	    locks a deposit from its org's account or a member account it
//	    controls, names the payee's account, the block at whose end the
//	    channel expires and the settle delay in blocks (at least
//	    MinSettleDelay).
//	  - top_up: the payer's side adds to the deposit while the channel is open.
//	  - redeem: the payee's side records a voucher; nothing moves yet.
//	  - settle: either side starts the end. The payer's settle leaves the
//	    payee the settle delay to redeem its latest voucher; the payee's
//	    settle (with that voucher, or without) ends the redeeming at once,
//	    since nobody else has anything to redeem.
//	  - collect: either side, once the redeeming ended, pays the payee what
//	    it redeemed and returns the rest of the deposit to the payer.
//	  - At the end of its expiry block a channel that is still open settles
//	    by itself, and at the end of the settle delay after that it is
//	    collected by itself: with nobody acting, the payee gets what it
//	    redeemed and the payer the rest. A channel that was settled but not
//	    collected is collected at its expiry (or when its delay ends, if
//	    later).
//
// Either side can always get out: the payer by settle then collect, the
// payee by settle then collect at once, either by waiting for the expiry.
// The sides are the payer member and its org's admins, and the members of
// the payee's org (only the payee member and the admins, for a member's
// account).
//
// # Conditional vouchers
//
// A voucher may carry a condition: it pays only once a compute job is
// accepted on chain. redeem reads the job's state through Jobs, a narrow
// read of the contract that holds the jobs; a contract made without one
// refuses conditional vouchers.
package paych

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "paych"

// Bounds of a channel, in blocks.
const (
	// MinSettleDelay is the shortest settle delay: the payee's time to
	// redeem after the payer settled. A delay of one block left payees of
	// earlier designs no time to answer a settle.
	MinSettleDelay = 10
	// MaxBlocks bounds the expiry's distance and the settle delay.
	MaxBlocks = 10_000_000
)

// Channel states.
const (
	StateOpen     = "open"
	StateSettling = "settling"
	StateClosed   = "closed"
)

// Who settled or collected a channel.
const (
	ByPayer  = "payer"
	ByPayee  = "payee"
	ByExpiry = "expiry"
)

// Channel is a channel's record.
type Channel struct {
	ID          string         `cbor:"id" json:"id"`               // the opening transaction's ID
	Payer       string         `cbor:"payer" json:"payer"`         // fingerprint of the member whose key signs the vouchers
	PayerKey    []byte         `cbor:"payer_key" json:"payer_key"` // its P-256 public key, SEC 1 uncompressed
	PayerOrg    string         `cbor:"payer_org" json:"payer_org"`
	From        string         `cbor:"from,omitempty" json:"from,omitempty"` // the member account funding it; "" the payer org's
	PayeeOrg    string         `cbor:"payee_org" json:"payee_org"`
	PayeeMember string         `cbor:"payee_member,omitempty" json:"payee_member,omitempty"`
	Deposit     uint64         `cbor:"deposit" json:"deposit"`
	Redeemed    uint64         `cbor:"redeemed" json:"redeemed"` // the lanes' sum
	Lanes       []voucher.Lane `cbor:"lanes" json:"lanes"`
	Opened      int64          `cbor:"opened" json:"opened"`
	Expiry      int64          `cbor:"expiry" json:"expiry"` // the block at whose end it settles by itself
	SettleDelay int64          `cbor:"settle_delay" json:"settle_delay"`
	State       string         `cbor:"state" json:"state"`
	// SettleAt is the block from which no voucher is taken and collect
	// may run (0 while open).
	SettleAt  int64  `cbor:"settle_at,omitempty" json:"settle_at,omitempty"`
	SettledBy string `cbor:"settled_by,omitempty" json:"settled_by,omitempty"`
	Paid      uint64 `cbor:"paid,omitempty" json:"paid,omitempty"`
	Refunded  uint64 `cbor:"refunded,omitempty" json:"refunded,omitempty"`
	Closed    int64  `cbor:"closed,omitempty" json:"closed,omitempty"`
	Txs       uint64 `cbor:"txs" json:"txs"` // transactions that changed the channel
}

// OpenArgs opens a channel paid by the caller.
type OpenArgs struct {
	From        string `cbor:"from,omitempty"` // a member account of the caller's org; "" its org account
	ToOrg       string `cbor:"to_org"`
	ToMember    string `cbor:"to_member,omitempty"`
	Deposit     uint64 `cbor:"deposit"`
	Expiry      int64  `cbor:"expiry"`       // block height
	SettleDelay int64  `cbor:"settle_delay"` // blocks
}

// TopUpArgs adds to a channel's deposit.
type TopUpArgs struct {
	Channel string `cbor:"id"`
	Amount  uint64 `cbor:"amount"`
}

// VoucherArgs redeems a voucher (redeem) or settles a channel, with the
// payee's last voucher or without (settle).
type VoucherArgs struct {
	Channel string `cbor:"id"`
	Voucher []byte `cbor:"voucher,omitempty"`
}

// ChannelArgs names a channel (collect, query "channel").
type ChannelArgs struct {
	Channel string `cbor:"id"`
}

// Contract is the payment-channel contract.
type Contract struct {
	jobs Jobs
}

// New returns the contract without a job contract: it refuses conditional
// vouchers.
func New() *Contract { return &Contract{} }

// NewWithJobs returns the contract taking vouchers conditional on the
// jobs that jobs reads.
func NewWithJobs(jobs Jobs) *Contract { return &Contract{jobs: jobs} }

// Name implements contract.Contract.
func (c *Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c *Contract) Methods() map[string]contract.Method {
	members := []identity.Role{identity.RoleAdmin, identity.RoleClient, identity.RoleNode, identity.RoleWorker}
	return map[string]contract.Method{
		"open":    {Roles: members, Run: c.open},
		"top_up":  {Roles: members, Run: c.topUp},
		"redeem":  {Roles: members, Run: c.redeem},
		"settle":  {Roles: members, Run: c.settle},
		"collect": {Roles: members, Run: c.collect},
	}
}

// Key layout: c/<id> channels, t/<u64be height>/<id> what is due at the
// end of a block, o/<org>\0<id> the channels of an org (as payer or payee).
const (
	pChannel = "c/"
	pTimer   = "t/"
	pOrg     = "o/"
)

func channelKey(id contract.TxID) []byte { return []byte(pChannel + string(id)) }

func timerPrefix(height int64) []byte {
	return append(binary.BigEndian.AppendUint64([]byte(pTimer), uint64(height)), '/')
}

func timerKey(height int64, id string) []byte { return append(timerPrefix(height), id...) }

func load(st contract.State, method, id string) (*Channel, error) {
	cid, err := contract.ParseTxID(id)
	if err != nil {
		return nil, txerr.New(txerr.BadArgs, "%s: channel: %v", method, err)
	}
	raw, err := st.Get(channelKey(cid))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, txerr.New(txerr.NotFound, "%s: no channel %s", method, cid)
	}
	var ch Channel
	if err := canon.Unmarshal(raw, &ch); err != nil {
		return nil, txerr.New(txerr.Internal, "channel %s: %v", cid, err)
	}
	return &ch, nil
}

func save(st contract.State, ch *Channel) error {
	return st.Set(channelKey(contract.TxID(ch.ID)), canon.MustMarshal(ch))
}

// payerSide reports whether the caller acts for the payer: the payer
// member or an admin of its org.
func (ch *Channel) payerSide(c contract.Caller) bool {
	return c.Org == ch.PayerOrg && (string(contract.FingerprintOf(c.Fingerprint)) == ch.Payer || c.Role == identity.RoleAdmin)
}

// payeeSide reports whether the caller acts for the payee: a member of
// the payee's org, or for a member's account that member and the admins.
func (ch *Channel) payeeSide(c contract.Caller) bool {
	return c.Org == ch.PayeeOrg && (ch.PayeeMember == "" || c.ID == ch.PayeeMember || c.Role == identity.RoleAdmin)
}

// settleAt is the block from which no voucher is taken and collect may
// run, or 0 while the channel is open. Past its expiry a channel counts
// as settling even if the end-of-block work did not run.
func (ch *Channel) settleAt(height int64) int64 {
	switch {
	case ch.SettleAt != 0:
		return ch.SettleAt
	case height > ch.Expiry:
		return ch.Expiry + ch.SettleDelay
	}
	return 0
}

// view is what voucher.Check needs of the channel.
func (ch *Channel) view(chain string) (*voucher.Channel, error) {
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), ch.PayerKey)
	if err != nil {
		return nil, txerr.New(txerr.Internal, "channel %s: payer key: %v", ch.ID, err)
	}
	v := &voucher.Channel{Chain: chain, Contract: Name, Payer: key, Deposit: ch.Deposit, Lanes: ch.Lanes}
	hex.Decode(v.ID[:], []byte(ch.ID))
	return v, nil
}

func attr(k, v string) contract.Attr         { return contract.Attr{Key: k, Value: v} }
func num(k string, n uint64) contract.Attr   { return attr(k, strconv.FormatUint(n, 10)) }
func height(k string, h int64) contract.Attr { return attr(k, strconv.FormatInt(h, 10)) }

// Query implements contract.Contract: "channel" (ChannelArgs) and
// "channels" (ListArgs).
func (c *Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	switch method {
	case "channel":
	case "channels":
		return c.list(st, raw)
	default:
		return nil, txerr.New(txerr.UnknownMethod, "paych has no query %q", method)
	}
	var a ChannelArgs
	if err := contract.DecodeArgs("channel", raw, &a); err != nil {
		return nil, err
	}
	ch, err := load(st, "channel", a.Channel)
	if err != nil {
		return nil, err
	}
	return contract.Result(ch)
}
