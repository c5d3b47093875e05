// One bidirectional stream (micro.shapes.Shapes/Chat), as many messages
// as fit in -duration, sent by one goroutine while another reads the
// echoes: prints the messages echoed per second. The same client for
// libmicro's server and grpc-go's (bench/grpc.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	pb "shapes"
)

func main() {
	addr := flag.String("address", "127.0.0.1:50051", "server")
	duration := flag.Duration("duration", 5*time.Second, "how long")
	flag.Parse()
	conn, err := grpc.Dial(*addr, grpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	st, err := pb.NewShapesClient(conn).Chat(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	var sent, got int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		for {
			if _, err := st.Recv(); err != nil {
				close(done)
				return
			}
			atomic.AddInt64(&got, 1)
		}
	}()
	req := &pb.EchoRequest{Shape: &pb.Shape{Name: "tri"}}
	start := time.Now()
	time.AfterFunc(*duration, func() { close(stop) })
loop:
	for {
		select {
		case <-stop:
			break loop
		default:
		}
		// at most 1000 in flight, so the count is of echoes, not a queue
		for atomic.LoadInt64(&sent)-atomic.LoadInt64(&got) > 1000 {
			time.Sleep(50 * time.Microsecond)
		}
		if err := st.Send(req); err != nil {
			log.Fatal(err)
		}
		sent++
	}
	n := atomic.LoadInt64(&got)
	elapsed := time.Since(start)
	st.CloseSend()
	<-done
	if atomic.LoadInt64(&got) != sent {
		log.Fatalf("sent %d, %d echoed", sent, got)
	}
	fmt.Printf("%d\n", int64(float64(n)/elapsed.Seconds()))
}
