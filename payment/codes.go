package payment

import (
	"errors"
	"fmt"

	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/txerr"
)

// Code says why the payee's node refused a voucher or a stream. Each
// reason has its own; they travel in Reject frames and are frozen.
type Code uint8

// Refusal codes.
const (
	CodeMalformed         Code = 1  // a frame or a voucher that does not decode
	CodeProtocol          Code = 2  // a frame out of order: no Hello first, a sequence number skipped
	CodeNotMember         Code = 3  // the peer is not a node of the paying org on the channel's chain
	CodeUnknownChannel    Code = 4  // the payee's replica holds no such channel
	CodeNotPayee          Code = 5  // the channel pays another org, or a member's account
	CodeNotOpen           Code = 6  // the channel is settling or closed, or expires too soon
	CodeWrongChain        Code = 7  // voucher.ErrWrongChain
	CodeWrongContract     Code = 8  // voucher.ErrWrongContract
	CodeWrongChannel      Code = 9  // voucher.ErrWrongChannel
	CodeStaleNonce        Code = 10 // voucher.ErrStaleNonce
	CodeAmountDecreased   Code = 11 // voucher.ErrAmountDecreased
	CodeTooManyLanes      Code = 12 // voucher.ErrTooManyLanes
	CodeAboveDeposit      Code = 13 // voucher.ErrAboveDeposit
	CodeLanesAboveDeposit Code = 14 // voucher.ErrLanesAboveDeposit
	CodeNotPayer          Code = 15 // voucher.ErrNotPayer
	CodeWrongCondition    Code = 16 // voucher.ErrWrongCondition
	CodeTooLittle         Code = 17 // voucher.ErrTooLittle
	CodeJobNotAccepted    Code = 18 // the job a voucher waits for is not accepted, or its acceptance does not pay this org
	CodeStorage           Code = 19 // the payee's node could not store the voucher durably
)

var codeNames = map[Code]string{
	CodeMalformed: "malformed", CodeProtocol: "protocol", CodeNotMember: "not_member",
	CodeUnknownChannel: "unknown_channel", CodeNotPayee: "not_payee", CodeNotOpen: "not_open",
	CodeWrongChain: "wrong_chain", CodeWrongContract: "wrong_contract", CodeWrongChannel: "wrong_channel",
	CodeStaleNonce: "stale_nonce", CodeAmountDecreased: "amount_decreased", CodeTooManyLanes: "too_many_lanes",
	CodeAboveDeposit: "above_deposit", CodeLanesAboveDeposit: "lanes_above_deposit", CodeNotPayer: "not_payer",
	CodeWrongCondition: "wrong_condition", CodeTooLittle: "too_little", CodeJobNotAccepted: "job_not_accepted",
	CodeStorage: "storage",
}

// String names the code.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint8(c))
}

// Refused is a refusal by the payee's node, or by this node on its
// behalf before anything was sent.
type Refused struct {
	Code   Code
	Reason string
}

func (e *Refused) Error() string { return fmt.Sprintf("voucher refused (%s): %s", e.Code, e.Reason) }

// Unwrap gives the refusal a transaction error code, for the API.
func (e *Refused) Unwrap() error {
	c := txerr.Rejected
	switch e.Code {
	case CodeMalformed:
		c = txerr.Malformed
	case CodeNotMember, CodeNotPayee:
		c = txerr.RoleDenied
	case CodeUnknownChannel:
		c = txerr.NotFound
	case CodeStorage:
		c = txerr.Unavailable
	}
	return &txerr.Error{Code: c, Msg: e.Error()}
}

func refuse(c Code, format string, args ...any) *Refused {
	return &Refused{Code: c, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns the refusal code of err: its own if it is a Refused,
// else the one of the voucher error it wraps, else 0.
func CodeOf(err error) Code {
	var r *Refused
	if errors.As(err, &r) {
		return r.Code
	}
	for _, m := range []struct {
		err  error
		code Code
	}{
		{voucher.ErrMalformed, CodeMalformed}, {voucher.ErrWrongChain, CodeWrongChain},
		{voucher.ErrWrongContract, CodeWrongContract}, {voucher.ErrWrongChannel, CodeWrongChannel},
		{voucher.ErrStaleNonce, CodeStaleNonce}, {voucher.ErrAmountDecreased, CodeAmountDecreased},
		{voucher.ErrTooManyLanes, CodeTooManyLanes}, {voucher.ErrAboveDeposit, CodeAboveDeposit},
		{voucher.ErrLanesAboveDeposit, CodeLanesAboveDeposit}, {voucher.ErrNotPayer, CodeNotPayer},
		{voucher.ErrWrongCondition, CodeWrongCondition}, {voucher.ErrTooLittle, CodeTooLittle},
	} {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return 0
}

// asRefused turns an error of the payee's checks into a Refused with its
// code. Every refusal the checks make is a Refused or a voucher error; an
// error of neither kind means the payee's node could not do its part.
func asRefused(err error) *Refused {
	var r *Refused
	if errors.As(err, &r) {
		return r
	}
	c := CodeOf(err)
	if c == 0 {
		c = CodeStorage
	}
	return &Refused{Code: c, Reason: err.Error()}
}
