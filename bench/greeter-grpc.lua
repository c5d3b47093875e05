-- wrk: a gRPC HelloRequest{name:"John"} (5-byte frame header, protobuf),
-- what an HTTP/1.1 client in front of NGINX's grpc_pass sends.
wrk.method = "POST"
wrk.body = "\0\0\0\0\6\10\4John"
wrk.headers["Content-Type"] = "application/grpc"
wrk.headers["TE"] = "trailers"
