// Fork-join throughput (Savina): 60 actors, each a goroutine with a mailbox
// (a buffered channel), receive 100,000 messages each, sent round-robin by
// the main goroutine: message m (0 to 99,999) to every actor in turn.
// Actor k adds (m * m + k) mod 1009 for each message and, after its
// 100,000th, reports the sum. Prints the number of messages and the total,
// like bench/actors/fjthroughput.weft.
//
//	go build -o fjthroughput fjthroughput.go && GOMAXPROCS=N ./fjthroughput
package main

import "fmt"

const (
	actors   = 60
	messages = 100000
)

func main() {
	mailboxes := make([]chan int, actors)
	sums := make(chan int)
	for k := range mailboxes {
		mailboxes[k] = make(chan int, 1024)
		go func(k int, mailbox <-chan int) {
			sum := 0
			for received := 1; ; received++ {
				m := <-mailbox
				sum += (m*m + k) % 1009
				if received == messages {
					sums <- sum
					return
				}
			}
		}(k, mailboxes[k])
	}
	for m := 0; m < messages; m++ {
		for _, mailbox := range mailboxes {
			mailbox <- m
		}
	}
	total := 0
	for k := 0; k < actors; k++ {
		total += <-sums
	}
	fmt.Println(actors*messages, total)
}
