package source

// This file holds how sources retry: backoff after a lost connection, and
// waiting for a fix after a refusal that retrying cannot cure.

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// How long sources wait between attempts (variables for tests).
var (
	backoffMin   = time.Second      // first retry after a lost connection
	backoffMax   = 5 * time.Second  // retries of lost connections back off to this
	refusedRetry = time.Minute      // a refused security setting is tried again this often
	watchEvery   = 2 * time.Second  // how often a refused source looks at its files
	stableAfter  = 10 * time.Second // a connection this old resets the backoff
)

// retry paces a source's connection attempts. A lost connection is
// retried with backoff and logged each time. A refusal is logged once
// (until a different error or a success), and then: ErrAuth and ErrUntrusted
// wait until watch reports a change to the files that can fix them
// (credentials, trust list) without asking the server again; ErrRefused is
// tried again every refusedRetry.
type retry struct {
	log      *slog.Logger
	what     string // "opcua source", "mqtt source"
	attrs    []any
	backoff  time.Duration
	reported string // the refusal last logged
}

func newRetry(log *slog.Logger, what string, attrs ...any) *retry {
	return &retry{log: log, what: what, attrs: attrs, backoff: backoffMin}
}

// connected records a successful connection.
func (r *retry) connected() {
	if r.reported != "" {
		r.log.Info(r.what+" connected after a refusal", r.attrs...)
	}
	r.reported = ""
}

// pause waits after err; the connection had lasted since started. It
// returns false when ctx ends.
func (r *retry) pause(ctx context.Context, err error, started time.Time, watch func() uint64) bool {
	if time.Since(started) > stableAfter {
		r.backoff = backoffMin
	}
	refusal := errors.Is(err, ErrAuth) || errors.Is(err, ErrUntrusted) || errors.Is(err, ErrRefused) || errors.Is(err, ErrConfig)
	if !refusal {
		r.reported = ""
		r.log.Warn(r.what+" lost its server, reconnecting", append(r.attrs, "err", err, "retry_in", r.backoff)...)
		ok := sleep(ctx, r.backoff)
		r.backoff = min(2*r.backoff, backoffMax)
		return ok
	}
	if msg := err.Error(); msg != r.reported {
		r.reported = msg
		next := "tries again in " + refusedRetry.String()
		if !errors.Is(err, ErrRefused) {
			next = "waits for the files to change"
		}
		r.log.Error(r.what+" refused: "+next, append(r.attrs, "err", err)...)
	}
	r.backoff = backoffMin
	if errors.Is(err, ErrRefused) {
		return sleep(ctx, refusedRetry)
	}
	v := watch()
	for watch() == v {
		if !sleep(ctx, watchEvery) {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
