package main

import (
	"fmt"
	"os"
	"time"
)

// progress returns a function that draws a progress line on stderr when it
// is a terminal (and does nothing otherwise), and one that ends the line.
func progress(label string, total int64) (func(int64), func()) {
	fi, err := os.Stderr.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil, func() {}
	}
	start, last := time.Now(), time.Time{}
	draw := func(n int64) {
		if time.Since(last) < 100*time.Millisecond && n != total {
			return
		}
		last = time.Now()
		rate := float64(n) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
		if total > 0 {
			fmt.Fprintf(os.Stderr, "\r%s %7.1f / %.1f MB  %3d%%  %6.1f MB/s ", label, float64(n)/1e6, float64(total)/1e6, n*100/total, rate)
		} else {
			fmt.Fprintf(os.Stderr, "\r%s %7.1f MB  %6.1f MB/s ", label, float64(n)/1e6, rate)
		}
	}
	return draw, func() { fmt.Fprintln(os.Stderr) }
}
