// Package testutil holds what tests across sealnet share: waiting for
// asynchronous work to show, and free ports for servers in other
// processes. It is imported by tests only.
package testutil

import (
	"net"
	"testing"
	"time"
)

// poll is how often the waits check their condition.
const poll = 100 * time.Millisecond

// WaitFor checks ok until it holds, and fails the test if it does not
// within d.
func WaitFor(tb testing.TB, what string, d time.Duration, ok func() bool) {
	tb.Helper()
	WaitForNil(tb, what, d, func() error {
		if ok() {
			return nil
		}
		return errNotYet
	})
}

// WaitForNil calls cond until it returns nil, and fails the test with its
// last error if that does not happen within d.
func WaitForNil(tb testing.TB, what string, d time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s (%s): %v", what, d, err)
		}
		time.Sleep(poll)
	}
}

type notYet struct{}

func (notYet) Error() string { return "not yet" }

var errNotYet error = notYet{}

// FreePort returns a TCP port of host that was free a moment ago, for a
// server in another process. A server in the test's own process should
// be handed a listener (net.Listen on port 0) instead: no one can take
// that port in between.
func FreePort(tb testing.TB, host string) int {
	tb.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
