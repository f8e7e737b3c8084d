// Command memhog allocates 1 MiB blocks until it is stopped.
package main

import "fmt"

var keep [][]byte

func main() {
	for i := 0; ; i++ {
		b := make([]byte, 1<<20)
		b[i%len(b)] = 1
		keep = append(keep, b)
		if i%64 == 0 {
			fmt.Println(i, "MiB")
		}
	}
}
