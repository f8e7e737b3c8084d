// Command spin never ends.
package main

var n uint64

func main() {
	for {
		n++
	}
}
