// Reads DIR/0.txt .. DIR/(N-1).txt at once, one goroutine each calling
// os.ReadFile; a WaitGroup waits for all of them. Prints N and the total
// bytes read (the files are ASCII), then the milliseconds from the first
// read to the last result. The peer of bench/io/read_files.weft.
//
//	go build -o read_files read_files.go && ./read_files DIR N
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	dir := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	start := time.Now()
	sizes := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			data, err := os.ReadFile(fmt.Sprintf("%s/%d.txt", dir, i))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			sizes[i] = len(data)
		}(i)
	}
	wg.Wait()
	total := 0
	for _, size := range sizes {
		total += size
	}
	fmt.Println(n, total)
	fmt.Println("elapsed_ms", time.Since(start).Milliseconds())
}
