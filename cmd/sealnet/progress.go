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

// filesProgress is progress for many files: files and bytes done, and the
// rate in files per second.
func filesProgress(label string, files int, total int64) (func(int, int64), func()) {
	fi, err := os.Stderr.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil, func() {}
	}
	start := time.Now()
	draw := func(n int, b int64) {
		secs := max(time.Since(start).Seconds(), 1e-3)
		fmt.Fprintf(os.Stderr, "\r%s %d / %d files  %.1f / %.1f MB  %6.0f files/s ", label, n, files, float64(b)/1e6, float64(total)/1e6, float64(n)/secs)
	}
	return draw, func() { fmt.Fprintln(os.Stderr) }
}
