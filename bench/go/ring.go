// Thread ring: 1,000 goroutines in a ring, each with an unbuffered channel
// from its predecessor, pass a token that counts its hops; the goroutine
// that receives the token at 1,000,000 hops (1,000 laps) reports it.
// Prints 1000000, like bench/actors/ring.weft.
//
//	go build -o ring ring.go && GOMAXPROCS=N ./ring
package main

import "fmt"

const (
	actors = 1000
	hops   = 1000000
)

func main() {
	inbox := make([]chan int, actors)
	for i := range inbox {
		inbox[i] = make(chan int)
	}
	done := make(chan int)
	for i := 0; i < actors; i++ {
		go func(in, next chan int) {
			for token := range in {
				if token == hops {
					done <- token
					return
				}
				next <- token + 1
			}
		}(inbox[i], inbox[(i+1)%actors])
	}
	inbox[0] <- 0
	fmt.Println(<-done)
}
