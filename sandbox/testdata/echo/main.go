// Command echo writes every file of /in, in name order, and then stdin to
// stdout.
package main

import (
	"io"
	"os"
)

func main() {
	entries, err := os.ReadDir("/in")
	if err == nil {
		for _, e := range entries {
			b, err := os.ReadFile("/in/" + e.Name())
			if err != nil {
				panic(err)
			}
			os.Stdout.Write(b)
		}
	}
	io.Copy(os.Stdout, os.Stdin)
	// inputs are read-only
	if err := os.WriteFile("/in/new", []byte("x"), 0o644); err == nil {
		os.Stdout.WriteString("WROTE")
	}
	for _, a := range os.Args[1:] {
		os.Stdout.WriteString(a)
	}
	os.Stdout.WriteString(os.Getenv("MODE"))
}
