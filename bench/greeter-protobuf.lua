-- wrk: Say.Hello {name: "John"} as protobuf over the micro transport.
wrk.method = "POST"
wrk.body = "\10\4John"
wrk.headers["Content-Type"] = "application/protobuf"
wrk.headers["Micro-Service"] = "go.micro.srv.greeter"
wrk.headers["Micro-Endpoint"] = "Say.Hello"
