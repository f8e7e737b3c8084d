// Command probe prints what a program could learn of its host: the time,
// random numbers, map order, its environment and whether it can reach the
// network or the host's files. In the sandbox all of it is fixed or absent.
package main

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"time"
)

func main() {
	fmt.Println("time", time.Now().UnixNano())
	t0 := time.Now()
	time.Sleep(10 * time.Millisecond)
	fmt.Println("elapsed", time.Since(t0))
	b := make([]byte, 8)
	rand.Read(b)
	fmt.Printf("crypto/rand %x\n", b)
	fmt.Println("math/rand", mrand.Uint64())
	m := map[int]int{}
	for i := range 32 {
		m[i] = i
	}
	fmt.Print("map")
	for k := range m {
		fmt.Print(" ", k)
	}
	fmt.Println()
	fmt.Println("env", len(os.Environ()))
	_, err := net.Dial("tcp", "127.0.0.1:80")
	fmt.Println("dial error", err != nil)
	_, err = os.ReadFile("/etc/passwd")
	fmt.Println("host file error", err != nil)
	s := make([]int, 0)
	for i := range 100000 {
		s = append(s, i*i%7)
	}
	fmt.Println("work", len(s))
}
