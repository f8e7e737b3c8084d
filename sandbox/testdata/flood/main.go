// Command flood writes to stdout without end.
package main

import "os"

func main() {
	b := make([]byte, 4096)
	for {
		if _, err := os.Stdout.Write(b); err != nil {
			os.Exit(3)
		}
	}
}
