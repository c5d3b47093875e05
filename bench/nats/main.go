// The NATS JetStream side of bench/broker.sh, built against Debian's
// golang-github-nats-io-go-nats-dev (GOPATH mode, no network). The same
// measurements as build/bench/broker_bench, on a memory stream "BENCH":
//
//	natsbench URL publish N SIZE          -> messages/s (each js.Publish
//	                                         waits for its ack)
//	natsbench URL latency RATE SECONDS SIZE SUBSCRIBERS
//	                                      -> messages/s p50 p99 (ms,
//	                                         publish to handler; the
//	                                         subscribers share a durable
//	                                         queue, acknowledging each)
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

const subject = "bench.broker"

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsbench:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: natsbench URL publish N SIZE | URL latency RATE SECONDS SIZE SUBSCRIBERS")
		os.Exit(2)
	}
	nc, err := nats.Connect(os.Args[1])
	if err != nil {
		fail(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		fail(err)
	}
	js.DeleteStream("BENCH")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "BENCH",
		Subjects: []string{"bench.>"}, Storage: nats.MemoryStorage,
		MaxMsgs: 100000}); err != nil {
		fail(err)
	}

	switch os.Args[2] {
	case "publish":
		n, _ := strconv.Atoi(os.Args[3])
		size, _ := strconv.Atoi(os.Args[4])
		body := make([]byte, size)
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := js.Publish(subject, body); err != nil {
				fail(err)
			}
		}
		fmt.Printf("%.0f\n", float64(n)/time.Since(start).Seconds())
	case "latency":
		rate, _ := strconv.Atoi(os.Args[3])
		seconds, _ := strconv.Atoi(os.Args[4])
		size, _ := strconv.Atoi(os.Args[5])
		subs, _ := strconv.Atoi(os.Args[6])
		n := rate * seconds
		var mu sync.Mutex
		lat := make([]time.Duration, 0, n)
		done := make(chan struct{})
		for i := 0; i < subs; i++ {
			_, err := js.QueueSubscribe(subject, "bench", func(m *nats.Msg) {
				sent := int64(binary.LittleEndian.Uint64(m.Data))
				d := time.Duration(time.Now().UnixNano() - sent)
				m.Ack()
				mu.Lock()
				lat = append(lat, d)
				if len(lat) == n {
					close(done)
				}
				mu.Unlock()
			}, nats.Durable("bench"), nats.ManualAck(), nats.DeliverNew())
			if err != nil {
				fail(err)
			}
		}
		body := make([]byte, size)
		start := time.Now()
		for i := 0; i < n; i++ {
			next := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			binary.LittleEndian.PutUint64(body, uint64(time.Now().UnixNano()))
			if _, err := js.Publish(subject, body); err != nil {
				fail(err)
			}
		}
		elapsed := time.Since(start)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fail(fmt.Errorf("%d of %d delivered", len(lat), n))
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		fmt.Printf("%.0f %.3fms %.3fms\n", float64(n)/elapsed.Seconds(),
			ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]))
	}
}
