// Ping-pong: two goroutines pass a number back and forth N times (default
// 1,000,000 round trips, or the first argument) over two unbuffered
// channels; pong answers each number with the number plus one, and ping
// stops once the answer reaches N. Prints N, like
// bench/actors/pingpong.weft. An unbuffered channel is a direct hand-off
// between the two goroutines; a buffer of one measured no faster.
//
//	go build -o pingpong pingpong.go && GOMAXPROCS=N ./pingpong [ROUND_TRIPS]
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	toPong := make(chan int)
	toPing := make(chan int)
	done := make(chan int)
	go func() { // pong
		for v := range toPong {
			toPing <- v + 1
		}
	}()
	go func() { // ping
		v := 0
		for v < n {
			toPong <- v
			v = <-toPing
		}
		done <- v
	}()
	fmt.Println(<-done)
}
