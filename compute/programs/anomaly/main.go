// Command anomaly is an example compute job: it flags the samples of each
// time series in /in that lie far outside the recent readings (more than
// 4 mean absolute deviations from the mean of the 32 before), as a
// maintenance analytics job over a machine's sensor data would. Build it
// with scripts/build-programs.sh.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/sealnet/sealnet/compute/programs/internal/analytics"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	err := analytics.Anomalies(os.DirFS("/in"), w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "anomaly:", err)
		os.Exit(1)
	}
}
