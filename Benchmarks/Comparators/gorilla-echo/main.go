// Command gorilla-echo is the gorilla/websocket comparator for
// Benchmarks/compare: a WebSocket echo server on /echo in which every
// connection runs one goroutine that reads a complete message and writes it
// back with the same message type (ReadMessage/WriteMessage). Pings are
// answered and close frames echoed by gorilla's default handlers.
//
// Build (Debian packages golang-go and golang-github-gorilla-websocket-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=/tmp/gocache go build -o gorilla-echo .
//
// Run: GOMAXPROCS=1 gorilla-echo -addr 127.0.0.1:PORT
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

const maxMessageSize = 64 << 20

var upgrader = websocket.Upgrader{
	// Benchmark clients send no Origin worth checking.
	CheckOrigin: func(*http.Request) bool { return true },
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already answered with an HTTP error.
	}
	defer conn.Close()
	conn.SetReadLimit(maxMessageSize)
	for {
		messageType, payload, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(messageType, payload); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9003", "listen address (host:port)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("bad -addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-addr must be a loopback address, got %q", *addr)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echoHandler)
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("gorilla-echo listening on %s (/echo)", *addr)
	log.Fatal(http.Serve(listener, mux))
}
