"""A publisher and subscriber in another language, written from the
README's "Broker format" section alone: Python's standard library over
raw RESP, no libmicro, no Redis client package.

    resp_broker.py PORT publish TOPIC BODY     prints the entry id
    resp_broker.py PORT subscribe TOPIC QUEUE N
        reads N messages as a member of queue QUEUE (made at the oldest
        entry if new), acknowledges each, prints each as a JSON line
        {"id": Micro-Id, "topic": Micro-Topic, "header": {...}, "body": "..."}
"""

import json
import socket
import sys
import uuid


class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def command(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)


def publish(r, topic, body):
    header = {"Micro-Id": str(uuid.uuid4()), "Micro-Topic": topic,
              "Content-Type": "application/json", "X-Language": "python"}
    entry = r.command("XADD", "micro:topic:" + topic, "MAXLEN", "~", 100000,
                      "*", "header", json.dumps(header), "body", body)
    print(entry.decode())


def subscribe(r, topic, queue, n):
    key, group = "micro:topic:" + topic, "queue:" + queue
    try:
        r.command("XGROUP", "CREATE", key, group, "0", "MKSTREAM")
    except RuntimeError as e:
        if not str(e).startswith("BUSYGROUP"):
            raise
    got = 0
    while got < n:
        reply = r.command("XREADGROUP", "GROUP", group, "py-1", "COUNT", 10,
                          "BLOCK", 30000, "STREAMS", key, ">")
        if reply is None:
            raise SystemExit("no message in 30 s")
        for entry_id, fields in reply[0][1]:
            f = dict(zip(fields[0::2], fields[1::2]))
            header = json.loads(f[b"header"])
            print(json.dumps({"id": header.get("Micro-Id"),
                              "topic": header.get("Micro-Topic"),
                              "header": header,
                              "body": f[b"body"].decode()}), flush=True)
            r.command("XACK", key, group, entry_id)
            got += 1


def main():
    port, what = int(sys.argv[1]), sys.argv[2]
    r = Redis(port)
    if what == "publish":
        publish(r, sys.argv[3], sys.argv[4])
    else:
        subscribe(r, sys.argv[3], sys.argv[4], int(sys.argv[5]))


main()
