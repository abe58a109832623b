// N concurrent 100 ms sleeps (default 100,000): one goroutine each, calling
// time.Sleep and storing its index; a WaitGroup waits for all of them.
// Prints N and the sum of the indexes, then the milliseconds from the first
// spawn to the last result. The peer of bench/io/sleep.weft.
//
//	go build -o sleep sleep.go && ./sleep [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	start := time.Now()
	values := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			time.Sleep(100 * time.Millisecond)
			values[i] = i
		}(i)
	}
	wg.Wait()
	sum := 0
	for _, v := range values {
		sum += v
	}
	fmt.Println(n, sum)
	fmt.Println("elapsed_ms", time.Since(start).Milliseconds())
}
