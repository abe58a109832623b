// Big (Savina): 120 actors, each a goroutine with a mailbox (a buffered
// channel), send pings to one another; each ping is answered with a pong,
// and an actor sends its next ping when the pong of the last one arrives,
// 5,000 pings each. Actor i picks the target of each ping with its own
// LCG, x = (1103515245 x + 12345) mod 2^31 from x = i, as the actor
// (i + 1 + (x div 65536) mod 119) mod 120, never itself. A pong carries the
// index of the actor that answered; an actor that got all its pongs
// reports their count and the sum of those indexes. Prints the total pongs
// and the total sum, like bench/actors/big.weft.
//
// A mailbox holds at most one pong, one ping from each other actor and the
// start message, so its 128 slots never fill and no send blocks (with
// unbuffered channels two actors pinging each other would deadlock).
//
//	go build -o big big.go && GOMAXPROCS=N ./big
package main

import "fmt"

const (
	actors = 120
	pings  = 5000
)

const (
	start = iota
	ping
	pong
)

type message struct {
	kind int
	from int
}

type report struct {
	pongs, sum int
}

func actor(i int, mailboxes []chan message, sink chan<- report) {
	x := i
	sent, pongs, sum := 0, 0, 0
	sendPing := func() {
		x = (1103515245*x + 12345) % 2147483648
		target := (i + 1 + (x/65536)%(actors-1)) % actors
		sent++
		mailboxes[target] <- message{ping, i}
	}
	for m := range mailboxes[i] {
		switch m.kind {
		case start:
			sendPing()
		case ping:
			mailboxes[m.from] <- message{pong, i}
		case pong:
			pongs++
			sum += m.from
			if sent < pings {
				sendPing()
			} else {
				sink <- report{pongs, sum}
			}
		}
	}
}

func main() {
	mailboxes := make([]chan message, actors)
	for i := range mailboxes {
		mailboxes[i] = make(chan message, 128)
	}
	sink := make(chan report)
	for i := 0; i < actors; i++ {
		go actor(i, mailboxes, sink)
	}
	for _, mailbox := range mailboxes {
		mailbox <- message{kind: start}
	}
	pongs, sum := 0, 0
	for i := 0; i < actors; i++ {
		r := <-sink
		pongs += r.pongs
		sum += r.sum
	}
	fmt.Println(pongs, sum)
}
