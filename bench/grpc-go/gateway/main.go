// grpc-gateway in front of the grpc-go greeter: JSON over HTTP/1.1 to
// gRPC, the peer users would pick instead of micro_api.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"

	"greeter"
)

func main() {
	addr := flag.String("address", "127.0.0.1:8080", "listen address")
	backend := flag.String("backend", "127.0.0.1:50051", "grpc-go greeter")
	flag.Parse()
	mux := runtime.NewServeMux()
	err := greeter.RegisterSayHandlerFromEndpoint(context.Background(), mux,
		*backend, []grpc.DialOption{grpc.WithInsecure()})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("grpc-gateway listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
