// Bounded buffer (Savina's producer-consumer): 20 producers put 200,000
// items each into one buffered channel of 50; producer p puts
// p * 200,000 + j for j from 0 to 199,999. 20 consumers take items until
// the channel is closed (after the last producer ends) and sum them.
// Prints the number of items consumed and their sum, like
// bench/actors/boundedbuffer.weft.
//
//	go build -o boundedbuffer boundedbuffer.go && GOMAXPROCS=N ./boundedbuffer
package main

import (
	"fmt"
	"sync"
)

const (
	producers = 20
	consumers = 20
	items     = 200000
	capacity  = 50
)

type tally struct{ count, sum int }

func main() {
	buffer := make(chan int, capacity)
	var producing sync.WaitGroup
	producing.Add(producers)
	for p := 0; p < producers; p++ {
		go func(p int) {
			defer producing.Done()
			for j := 0; j < items; j++ {
				buffer <- p*items + j
			}
		}(p)
	}
	tallies := make(chan tally)
	for c := 0; c < consumers; c++ {
		go func() {
			var t tally
			for item := range buffer {
				t.count++
				t.sum += item
			}
			tallies <- t
		}()
	}
	producing.Wait()
	close(buffer)
	var total tally
	for c := 0; c < consumers; c++ {
		t := <-tallies
		total.count += t.count
		total.sum += t.sum
	}
	fmt.Println(total.count, total.sum)
}
