// Command panic fails at once.
package main

import "os"

func main() {
	os.Stderr.WriteString("secret input 4711\n")
	var m map[string]int
	m["x"] = 1
}
