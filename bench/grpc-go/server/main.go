// A grpc-go greeter: the peer libmicro's server is measured against.
package main

import (
	"context"
	"flag"
	"log"
	"net"

	"google.golang.org/grpc"

	"greeter"
)

type say struct{}

func (say) Hello(ctx context.Context, req *greeter.Request) (*greeter.Response, error) {
	return &greeter.Response{Msg: "Hello " + req.Name}, nil
}

// Stream sends count greetings, for the streaming benchmarks.
func (say) Stream(req *greeter.StreamRequest, st greeter.Say_StreamServer) error {
	msg := &greeter.Response{Msg: "Hello " + req.Name}
	for i := int32(0); i < req.Count; i++ {
		if err := st.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	addr := flag.String("address", "127.0.0.1:50051", "listen address")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	greeter.RegisterSayServer(s, say{})
	log.Printf("grpc-go greeter listening on %s", *addr)
	log.Fatal(s.Serve(lis))
}
