#!/usr/bin/python3
"""micro.shapes.Shapes on grpcio: the peer libmicro's gRPC client is tested
against (t/libmicro/grpc.t). Same behaviour as libmicro/test/grpcsrv.c.

    grpc_shapes.py GENDIR PORT      (GENDIR: shapes_pb2*.py, see shapes.py)
"""
import sys
import time
from concurrent import futures

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import shapes_pb2 as pb  # noqa: E402
import shapes_pb2_grpc as pbg  # noqa: E402


def fail(context, status, detail):
    context.abort(grpc.StatusCode(_codes[status]), detail or "asked to fail")


_codes = {c.value[0]: c.value for c in grpc.StatusCode}


def echo_into(req, context):
    if req.fail_status:
        fail(context, req.fail_status, req.fail_detail)
    end = time.monotonic() + req.sleep_ms / 1000.0
    while time.monotonic() < end and context.is_active():
        time.sleep(0.01)
    resp = pb.EchoResponse(shape=req.shape)
    left = context.time_remaining()
    # without a deadline grpcio's streams say a huge number, not None
    resp.remaining_ms = (-1 if left is None or left * 1000 >= 2 ** 31
                         else int(left * 1000))
    md = dict(context.invocation_metadata())
    back = []
    for name in req.echo_headers:
        if name in md:
            back.append((name, md[name]))
            if not name.endswith("-bin"):
                resp.headers[name] = md[name]
    if back:
        context.send_initial_metadata(back)
    if req.pad > 0:
        resp.padding = b"x" * req.pad
    return resp


class Shapes(pbg.ShapesServicer):
    def Echo(self, req, context):
        return echo_into(req, context)

    def Count(self, req, context):
        for i in range(1, req.count + 1):
            if req.fail_after and i > req.fail_after:
                fail(context, 9, "failed after %d" % req.fail_after)
            yield pb.CountReply(n=i)
            end = time.monotonic() + req.sleep_ms / 1000.0
            while time.monotonic() < end and context.is_active():
                time.sleep(0.01)

    def Sum(self, reqs, context):
        total = n = 0
        for r in reqs:
            total += r.count
            n += 1
        return pb.SumReply(total=total, messages=n)

    def Chat(self, reqs, context):
        for r in reqs:
            yield echo_into(r, context)


def main():
    # the limit grpcsrv runs with in the tests (--max-body)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=128),
                         options=[("grpc.max_receive_message_length",
                                   8 * 1024 * 1024)])
    pbg.add_ShapesServicer_to_server(Shapes(), server)
    # grpc.health.v1.Health/Check: HealthCheckResponse{status: SERVING}
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(
            lambda req, context: b"\x08\x01")})])
    server.add_insecure_port("127.0.0.1:%s" % sys.argv[2])
    server.start()
    print("grpcio shapes listening on 127.0.0.1:%s" % sys.argv[2],
          flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
