#!/usr/bin/python3
"""grpcio's client against a micro.shapes.Shapes server (libmicro's):
each case prints "ok - NAME" or "not ok - NAME: why" (t/libmicro/grpc.t
reads them).

    grpc_client.py GENDIR ADDRESS
"""
import queue
import sys
import threading

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import shapes_pb2 as pb  # noqa: E402
import shapes_pb2_grpc as pbg  # noqa: E402

LIMIT = 16 * 1024 * 1024
channel = grpc.insecure_channel(
    sys.argv[2], options=[("grpc.max_receive_message_length", LIMIT),
                          ("grpc.max_send_message_length", LIMIT)])
stub = pbg.ShapesStub(channel)
SHAPE = pb.Shape(name="tri", points=[pb.Point(x=1, y=2), pb.Point(x=-3)],
                 tags={"a": 1, "big": 9007199254740993}, mood=pb.SAD,
                 center=pb.Point(x=7, y=8), blob=b"\x00\xff\x10")


def case(name, fn):
    try:
        why = fn()
    except grpc.RpcError as e:
        why = "%s %s" % (e.code(), e.details())
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        why = repr(e)
    print(("ok - %s" % name) if why is None else ("not ok - %s: %s"
                                                   % (name, why)),
          flush=True)


def expect(cond, why):
    return None if cond else why


def unary():
    r = stub.Echo(pb.EchoRequest(shape=SHAPE), timeout=10)
    return expect(r.shape == SHAPE, "shape came back as %s" % r.shape)


def server_stream():
    got = [m.n for m in stub.Count(pb.CountRequest(count=5), timeout=10)]
    return expect(got == [1, 2, 3, 4, 5], "got %s" % got)


def client_stream():
    r = stub.Sum(iter([pb.CountRequest(count=n) for n in (1, 2, 3, 4)]),
                 timeout=10)
    return expect((r.total, r.messages) == (10, 4), "got %s" % r)


def bidi():
    # each request is sent only after the previous reply: a real dialogue
    q = queue.Queue()
    q.put(pb.EchoRequest(shape=pb.Shape(name="0")))

    def requests():
        while True:
            m = q.get()
            if m is None:
                return
            yield m

    got = []
    for reply in stub.Chat(requests(), timeout=10):
        got.append(reply.shape.name)
        q.put(pb.EchoRequest(shape=pb.Shape(name=str(len(got))))
              if len(got) < 3 else None)
    return expect(got == ["0", "1", "2"], "got %s" % got)


def deadline_exceeded():
    try:
        stub.Echo(pb.EchoRequest(sleep_ms=5000), timeout=0.3)
    except grpc.RpcError as e:
        return expect(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED,
                      "code %s" % e.code())
    return "no error"


def deadline_reaches_handler():
    r = stub.Echo(pb.EchoRequest(), timeout=30)
    return expect(0 < r.remaining_ms <= 31000, "remaining %d" %
                  r.remaining_ms)


def no_deadline():
    r = stub.Echo(pb.EchoRequest())
    return expect(r.remaining_ms == -1, "remaining %d" % r.remaining_ms)


def cancel_mid_stream():
    call = stub.Count(pb.CountRequest(count=100000, sleep_ms=20), timeout=60)
    first = [next(call).n, next(call).n]
    call.cancel()
    try:
        next(call)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            return "code %s" % e.code()
    after = stub.Echo(pb.EchoRequest(shape=pb.Shape(name="after")),
                      timeout=10)
    return expect(first == [1, 2] and after.shape.name == "after",
                  "first %s, then %s" % (first, after))


EXPECTED = {10: 6, 11: 3, 15: 13}  # no go-micro code of their own


def every_status():
    wrong = []
    for status in range(1, 17):
        try:
            stub.Echo(pb.EchoRequest(fail_status=status,
                                     fail_detail="boom %d" % status),
                      timeout=10)
            wrong.append("%d: no error" % status)
        except grpc.RpcError as e:
            want = EXPECTED.get(status, status)
            if e.code().value[0] != want or e.details() != "boom %d" % status:
                wrong.append("%d: %s %r" % (status, e.code(), e.details()))
    return expect(not wrong, "; ".join(wrong))


def stream_error():
    got = []
    try:
        for m in stub.Count(pb.CountRequest(count=5, fail_after=2),
                            timeout=10):
            got.append(m.n)
    except grpc.RpcError as e:
        return expect(got == [1, 2] and e.code() ==
                      grpc.StatusCode.FAILED_PRECONDITION
                      and e.details() == "failed after 2",
                      "got %s then %s %s" % (got, e.code(), e.details()))
    return "no error"


def metadata():
    r, call = stub.Echo.with_call(
        pb.EchoRequest(echo_headers=["x-token", "x-trace-bin", "x-none"]),
        metadata=[("x-token", "abc"), ("x-trace-bin", b"\x00\x01\xfe")],
        timeout=10)
    md = dict(call.initial_metadata())
    return expect(md.get("x-token") == "abc"
                  and md.get("x-trace-bin") == b"\x00\x01\xfe"
                  and dict(r.headers) == {"x-token": "abc"},
                  "initial %s, echoed %s" % (md, dict(r.headers)))


def big_messages():
    blob = b"\x01" * (5 * 1000 * 1000)
    r = stub.Echo(pb.EchoRequest(shape=pb.Shape(blob=blob), pad=5000000),
                  timeout=30)
    return expect(r.shape.blob == blob and len(r.padding) == 5000000,
                  "%d and %d bytes back" % (len(r.shape.blob),
                                            len(r.padding)))


def over_the_limit():
    try:
        stub.Echo(pb.EchoRequest(shape=pb.Shape(blob=b"\x01" * 9000000)),
                  timeout=30)
    except grpc.RpcError as e:
        return expect(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED,
                      "code %s %s" % (e.code(), e.details()))
    return "no error"


def concurrent():
    calls = [stub.Echo.future(pb.EchoRequest(shape=pb.Shape(name=str(i)),
                                             sleep_ms=50), timeout=60)
             for i in range(100)]
    names = [c.result().shape.name for c in calls]
    return expect(names == [str(i) for i in range(100)], "got %s" % names)


def concurrent_streams():
    out = {}

    def run(i):
        out[i] = [m.n for m in stub.Count(pb.CountRequest(count=20),
                                           timeout=60)]

    ts = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    bad = [i for i in range(20) if out.get(i) != list(range(1, 21))]
    return expect(not bad, "streams %s wrong" % bad)


def unknown_method():
    try:
        channel.unary_unary("/micro.shapes.Shapes/Nope")(b"", timeout=10)
    except grpc.RpcError as e:
        return expect(e.code() == grpc.StatusCode.UNIMPLEMENTED,
                      "code %s" % e.code())
    return "no error"


def health():
    r = channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=10)
    return expect(r == b"\x08\x01", "got %r" % r)


for name, fn in [("unary with nested, repeated, map, enum, bytes", unary),
                 ("server stream", server_stream),
                 ("client stream", client_stream),
                 ("bidirectional stream", bidi),
                 ("deadline exceeded", deadline_exceeded),
                 ("deadline reaches the handler", deadline_reaches_handler),
                 ("no deadline", no_deadline),
                 ("cancel mid-stream", cancel_mid_stream),
                 ("every error status", every_status),
                 ("error mid-stream", stream_error),
                 ("metadata both ways, -bin included", metadata),
                 ("5 MB each way", big_messages),
                 ("over the limit", over_the_limit),
                 ("100 concurrent calls, one connection", concurrent),
                 ("20 concurrent streams", concurrent_streams),
                 ("unknown method", unknown_method),
                 ("grpc.health.v1 check", health)]:
    case(name, fn)
