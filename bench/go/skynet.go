// Skynet: a 10-ary tree of 1,000,000 leaf goroutines (111,111 inner ones);
// each leaf sends its number up a channel and each inner goroutine sums its
// ten children. Prints 499999500000, like bench/concurrency/skynet.weft.
// The written form of github.com/atemerev/skynet's Go version.
//
//	go build -o skynet skynet.go && GOMAXPROCS=N ./skynet
package main

import "fmt"

func skynet(out chan<- int, num, size, div int) {
	if size == 1 {
		out <- num
		return
	}
	children := make(chan int)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(children, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-children
	}
	out <- sum
}

func main() {
	result := make(chan int)
	go skynet(result, 0, 1000000, 10)
	fmt.Println(<-result)
}
