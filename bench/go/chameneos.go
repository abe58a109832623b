// Chameneos (Savina's chameneos-redux): 10 creatures, each a goroutine,
// ask a mall goroutine for a meeting, sending their index and colour. The
// mall keeps one waiting creature; the next request pairs it with the
// requester and sends each the other's colour. A creature counts the
// meeting, takes the complement of the two colours (its own when they are
// equal, else the third) and asks again. After 300,000 meetings the mall
// answers every request, and the creature still waiting, with "stop", and
// a stopped creature reports how many meetings it had. Prints the sum of
// the reports, 2 x 300,000, like bench/actors/chameneos.weft.
//
// Each creature has at most one request at the mall and one answer in its
// own mailbox, so the buffers (10 and 1) never fill.
//
//	go build -o chameneos chameneos.go && GOMAXPROCS=N ./chameneos
package main

import "fmt"

const (
	creatures = 10
	meetings  = 300000
	stop      = -1 // an answer that is not a colour
)

type request struct{ id, color int }

// complement: colours are 0 (blue), 1 (red) and 2 (yellow).
func complement(a, b int) int {
	if a == b {
		return a
	}
	return 3 - a - b
}

func main() {
	mall := make(chan request, creatures)
	inbox := make([]chan int, creatures)
	reports := make(chan int)
	for i := range inbox {
		inbox[i] = make(chan int, 1)
	}
	go func() {
		met := 0
		var waiting *request
		for r := range mall {
			switch {
			case met == meetings:
				inbox[r.id] <- stop
				if waiting != nil {
					inbox[waiting.id] <- stop
					waiting = nil
				}
			case waiting == nil:
				w := r
				waiting = &w
			default:
				met++
				inbox[waiting.id] <- r.color
				inbox[r.id] <- waiting.color
				waiting = nil
			}
		}
	}()
	for i := 0; i < creatures; i++ {
		go func(id int) {
			color, count := id%3, 0
			mall <- request{id, color}
			for other := range inbox[id] {
				if other == stop {
					reports <- count
					return
				}
				count++
				color = complement(color, other)
				mall <- request{id, color}
			}
		}(i)
	}
	total := 0
	for i := 0; i < creatures; i++ {
		total += <-reports
	}
	fmt.Println(total)
}
