// Command stats is an example compute job: count, minimum, maximum, mean
// and standard deviation of the time series in /in (one "time,value" file
// per series), in fixed-point decimals, written to stdout. Build it with
// scripts/build-programs.sh.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/sealnet/sealnet/compute/programs/internal/analytics"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	err := analytics.Stats(os.DirFS("/in"), w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stats:", err)
		os.Exit(1)
	}
}
