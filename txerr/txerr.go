// Package txerr defines the codes with which a sealnet node rejects a
// transaction. The code travels in the ABCI response (CheckTx or the block's
// transaction result), in the API's answer and in the CLI's exit message, so
// it is part of the protocol: numbers are never reused or renumbered.
package txerr

import (
	"errors"
	"fmt"
)

// Code is a transaction result code. 0 is success.
type Code uint32

// Codes, with the condition each one reports.
const (
	OK              Code = 0
	Malformed       Code = 1  // bytes do not decode as a canonical envelope or payload
	Oversized       Code = 2  // envelope larger than the channel's limit
	BadSignature    Code = 3  // signature does not verify against the creator's certificate
	UnknownCert     Code = 4  // creator fingerprint not registered on the channel
	ExpiredCert     Code = 5  // creator certificate not valid at the block time
	RevokedCert     Code = 6  // creator certificate revoked by its org's admin
	RoleDenied      Code = 7  // creator's role may not call the method
	WrongChannel    Code = 8  // payload names another channel than the one executing it
	StaleTimestamp  Code = 9  // timestamp further than tau from the block time
	Replay          Code = 10 // creator already used the nonce within tau
	UnknownContract Code = 11 // no such contract
	UnknownMethod   Code = 12 // contract has no such method
	BadArgs         Code = 13 // arguments do not decode or fail validation
	Rejected        Code = 14 // the contract refused the call (a rule of its own)
	NotFound        Code = 15 // the object named does not exist
	Unavailable     Code = 16 // the node cannot take the transaction now (mempool full, shutting down)
	Duplicate       Code = 17 // the same transaction bytes are already pending or committed
	Internal        Code = 99 // a bug or storage failure; the node logs it
)

var names = map[Code]string{
	OK: "ok", Malformed: "malformed", Oversized: "oversized", BadSignature: "bad signature",
	UnknownCert: "unknown certificate", ExpiredCert: "expired certificate",
	RevokedCert: "revoked certificate", RoleDenied: "role not allowed", WrongChannel: "wrong channel",
	StaleTimestamp: "stale timestamp", Replay: "replayed nonce", UnknownContract: "unknown contract",
	UnknownMethod: "unknown method", BadArgs: "bad arguments", Rejected: "rejected",
	NotFound: "not found", Unavailable: "unavailable", Duplicate: "duplicate transaction",
	Internal: "internal error",
}

// String names the code.
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("code %d", uint32(c))
}

// Codes lists every defined code in ascending order (for documentation).
func Codes() []Code {
	return []Code{OK, Malformed, Oversized, BadSignature, UnknownCert, ExpiredCert, RevokedCert,
		RoleDenied, WrongChannel, StaleTimestamp, Replay, UnknownContract, UnknownMethod, BadArgs,
		Rejected, NotFound, Unavailable, Duplicate, Internal}
}

// Error is a rejection with its code.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Msg }

// Is makes errors.Is(err, &Error{Code: c}) match any error with code c.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && t.Msg == ""
}

// New returns an error with the code and a formatted message.
func New(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// Sentinel returns a message-less error that errors.Is matches against any
// error of code c.
func Sentinel(c Code) error { return &Error{Code: c} }

// Message returns err's message without the code's name (for results that
// carry the code beside it).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" && err == error(e) {
		return e.Msg
	}
	return err.Error()
}

// CodeOf returns err's code: OK for nil, Internal for errors without one.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
