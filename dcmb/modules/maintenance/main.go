// Command maintenance is paper 000's section 5 mapping as a DCMB module:
// a work-piece counter inside 5300 < count < 5400 gives the label
// "Maintenance imminent" on output "maintenance", once per key and batch
// (the paper's Algorithm 4 sends it once per interval). Nothing else of
// the counter leaves the module.
package main

import (
	"fmt"
	"os"

	"github.com/sealnet/sealnet/dcmb/modules/abi"
)

const (
	output = "maintenance"
	label  = "Maintenance imminent"
	above  = 5300
	below  = 5400
)

func main() {
	if err := abi.Serve(os.Stdin, os.Stdout, process); err != nil {
		fmt.Fprintln(os.Stderr, "maintenance:", err)
		os.Exit(1)
	}
}

func process(b *abi.Batch) error {
	labelled := map[string]bool{}
	for b.Next() {
		m := b.Message()
		v, ok := count(m.Value)
		if !ok || v <= above || v >= below || labelled[string(m.Key)] {
			continue
		}
		labelled[string(m.Key)] = true
		b.Emit(output, label)
	}
	return b.Err()
}

// count reads a decimal counter, surrounding spaces allowed, without
// allocating: a batch holds many thousands of values.
func count(b []byte) (int64, bool) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = 10*v + int64(c-'0')
	}
	return v, true
}
