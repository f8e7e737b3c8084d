// Package parallel spreads independent work over the machine's cores.
package parallel

import (
	"runtime"
	"sync"
)

// For calls fn(0), ..., fn(n-1) on up to GOMAXPROCS goroutines and waits
// for all of them. The calls must be independent of each other.
func For(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
