package source

import (
	"testing"
	"time"
)

// FastRetry shortens the sources' waits for a test.
func FastRetry(tb testing.TB) {
	a, b, c, d := backoffMin, backoffMax, refusedRetry, watchEvery
	backoffMin, backoffMax, refusedRetry, watchEvery = 100*time.Millisecond, 500*time.Millisecond, time.Second, 100*time.Millisecond
	tb.Cleanup(func() { backoffMin, backoffMax, refusedRetry, watchEvery = a, b, c, d })
}
