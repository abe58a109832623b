// Parallel fib(32): above the cutoff of 25 each call computes fib(n-1) in a
// new goroutine and fib(n-2) itself, then adds the two; below it, plain
// recursion. Prints 2178309, like bench/concurrency/pfib.weft.
//
//	go build -o pfib pfib.go && GOMAXPROCS=N ./pfib
package main

import "fmt"

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func pfib(n int) int {
	if n < 25 {
		return fib(n)
	}
	a := make(chan int, 1)
	go func() { a <- pfib(n - 1) }()
	b := pfib(n - 2)
	return <-a + b
}

func main() {
	fmt.Println(pfib(32))
}
