package source

// This file holds the errors sources report.

import "errors"

// Errors a source reports. Each is wrapped with what was refused and the
// setting to change; test with errors.Is.
var (
	// ErrConfig: a setting is missing, contradictory or unsupported. The
	// source does not start.
	ErrConfig = errors.New("source configuration")
	// ErrAuth: the server or broker refused the user's credentials. The
	// source does not try again until the credentials change (a
	// password_file or certificate file is rewritten): repeated attempts
	// could lock the account.
	ErrAuth = errors.New("authentication refused")
	// ErrUntrusted: the server's certificate is not in the trust list, or
	// the broker's is not signed by the configured CA. The source tries
	// again when the trust list changes.
	ErrUntrusted = errors.New("server certificate not trusted")
	// ErrRefused: the server or broker refused the connection's security:
	// it does not offer the configured policy, or does not accept this
	// client's certificate. The source tries again every minute.
	ErrRefused = errors.New("security refused")
	// ErrUndecodable: a message's payload is not what the source's format
	// says. The message is recorded as dropped, with the reason.
	ErrUndecodable = errors.New("payload does not decode")
	// ErrNoBirth: a Sparkplug DATA message refers to a metric alias that no
	// birth certificate defined. The metric is recorded as dropped and a
	// rebirth is requested.
	ErrNoBirth = errors.New("metric without a birth certificate")
)
