// Counting (Savina): a producer sends 3,000,000 increments (1, 2, ...,
// 3,000,000) to a counter goroutine through its mailbox, a buffered
// channel, then asks for the total with a request that carries a reply
// channel. Prints 4500001500000, like bench/actors/counting.weft.
//
//	go build -o counting counting.go && GOMAXPROCS=N ./counting
package main

import "fmt"

const n = 3000000

// message is an increment, or (reply != nil) a request for the total.
type message struct {
	increment int
	reply     chan int
}

func main() {
	mailbox := make(chan message, 1024)
	go func() { // the counter
		total := 0
		for m := range mailbox {
			if m.reply != nil {
				m.reply <- total
			} else {
				total += m.increment
			}
		}
	}()
	for i := 1; i <= n; i++ { // the producer
		mailbox <- message{increment: i}
	}
	reply := make(chan int)
	mailbox <- message{reply: reply}
	fmt.Println(<-reply)
}
