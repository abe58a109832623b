// An HTTP server on 127.0.0.1:PORT (net/http) that answers every request
// with the 14-byte text "Hello, World!\n"; a request for /stop closes it,
// and the program ends. The peer of bench/io/hello_server.weft; bench/compare
// runs it under wrk (http_rps).
//
//	go build -o hello_server hello_server.go && ./hello_server PORT
package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
)

func main() {
	server := &http.Server{Addr: "127.0.0.1:" + os.Args[1]}
	server.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stop" {
			go server.Close()
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!\n"))
	})
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
