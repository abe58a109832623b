// Starts N GET requests to URL at once, one goroutine each calling
// http.Get (the default client: no limit on connections per host); a
// WaitGroup waits for all of them. Prints the number of 200 responses and
// the total bytes of their bodies, then the milliseconds from the first
// request to the last response. The peer of bench/io/http_fanout.weft.
//
//	go build -o http_fanout http_fanout.go && ./http_fanout URL N
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	url := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	start := time.Now()
	sizes := make([]int, n) // -1: not a 200 response
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			resp, err := http.Get(url)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				sizes[i] = -1
				return
			}
			sizes[i] = len(body)
		}(i)
	}
	wg.Wait()
	ok, total := 0, 0
	for _, size := range sizes {
		if size >= 0 {
			ok++
			total += size
		}
	}
	fmt.Println(ok, total)
	fmt.Println("elapsed_ms", time.Since(start).Milliseconds())
}
