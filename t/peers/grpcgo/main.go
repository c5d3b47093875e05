// micro.shapes.Shapes on grpc-go: the peer libmicro's gRPC client is
// tested against (t/libmicro/grpc.t). Same behaviour as
// libmicro/test/grpcsrv.c and t/peers/grpc_shapes.py.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "shapes"
)

type shapes struct{}

func nap(ctx context.Context, ms int32) {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-ctx.Done():
	}
}

func echo(ctx context.Context, req *pb.EchoRequest, send func(metadata.MD) error) (*pb.EchoResponse, error) {
	if req.FailStatus != 0 {
		detail := req.FailDetail
		if detail == "" {
			detail = "asked to fail"
		}
		return nil, status.Error(codes.Code(req.FailStatus), detail)
	}
	nap(ctx, req.SleepMs)
	resp := &pb.EchoResponse{Shape: req.Shape, RemainingMs: -1, Headers: map[string]string{}}
	if d, ok := ctx.Deadline(); ok {
		resp.RemainingMs = int32(time.Until(d) / time.Millisecond)
	}
	in, _ := metadata.FromIncomingContext(ctx)
	back := metadata.MD{}
	for _, name := range req.EchoHeaders {
		if v := in.Get(name); len(v) > 0 {
			back.Set(name, v[0])
			if !strings.HasSuffix(name, "-bin") {
				resp.Headers[name] = v[0]
			}
		}
	}
	if len(back) > 0 {
		if err := send(back); err != nil {
			return nil, err
		}
	}
	if req.Pad > 0 {
		resp.Padding = []byte(strings.Repeat("x", int(req.Pad)))
	}
	return resp, nil
}

func (shapes) Echo(ctx context.Context, req *pb.EchoRequest) (*pb.EchoResponse, error) {
	return echo(ctx, req, func(md metadata.MD) error { return grpc.SendHeader(ctx, md) })
}

func (shapes) Count(req *pb.CountRequest, st pb.Shapes_CountServer) error {
	for i := int32(1); i <= req.Count; i++ {
		if req.FailAfter != 0 && i > req.FailAfter {
			return status.Errorf(codes.FailedPrecondition, "failed after %d", req.FailAfter)
		}
		if err := st.Send(&pb.CountReply{N: i}); err != nil {
			return err
		}
		nap(st.Context(), req.SleepMs)
	}
	return nil
}

func (shapes) Sum(st pb.Shapes_SumServer) error {
	var total int64
	var n int32
	for {
		r, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&pb.SumReply{Total: total, Messages: n})
		}
		if err != nil {
			return err
		}
		total += int64(r.Count)
		n++
	}
}

func (shapes) Chat(st pb.Shapes_ChatServer) error {
	for {
		r, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := echo(st.Context(), r, st.SendHeader)
		if err != nil {
			return err
		}
		if err := st.Send(resp); err != nil {
			return err
		}
	}
}

func main() {
	addr := flag.String("address", "127.0.0.1:50051", "listen address")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(8 << 20))
	pb.RegisterShapesServer(s, shapes{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	log.Printf("grpc-go shapes listening on %s", *addr)
	log.Fatal(s.Serve(lis))
}
