#!/usr/bin/env python3
"""A micro-transport service in Python's standard library, for the reply
framing tests: it answers go.micro.srv.greeter's Say.Hello ("Hello NAME",
JSON or protobuf by the request's Content-Type) and frames the reply as
the request's X-Framing header asks: "length" (Content-Length, the
default), "chunked" (Transfer-Encoding: chunked, in 7-byte chunks) or
"close" (no length; the reply ends when the connection closes).
X-Reply-Pad: N adds N bytes to the greeting. With STATUS it answers
every call with that status and a go-micro error. Prints "listening on
PORT" once it accepts connections.

    microsvc.py PORT [STATUS]
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def pb_name(data):
    """Field 1 (string) of a go.micro.srv.greeter.Request."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        if key & 7 != 2:
            raise ValueError("unexpected wire type")
        n, i = read_varint(data, i)
        if key >> 3 == 1:
            return data[i:i + n].decode()
        i += n
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        proto = self.headers.get("Content-Type", "").startswith(
            "application/protobuf")
        name = pb_name(body) if proto else json.loads(body or b"{}").get(
            "name", "")
        msg = "Hello " + name + "." * int(self.headers.get("X-Reply-Pad", 0))
        if proto:
            reply = b"\x0a" + varint(len(msg.encode())) + msg.encode()
        else:
            reply = json.dumps({"msg": msg}).encode()
        framing = self.headers.get("X-Framing", "length")
        status = int(sys.argv[2]) if len(sys.argv) > 2 else 200
        if status != 200:
            proto = False
            reply = json.dumps({"id": "greeter", "code": status,
                                "detail": "refused by its STATUS",
                                "status": "refused"}).encode()

        self.send_response(status)
        self.send_header("Content-Type", "application/protobuf" if proto
                         else "application/json")
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(reply), 7):
                part = reply[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif framing == "close":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply)
            self.close_connection = True
        else:
            # head and body in one write, as most servers send a small reply
            self.send_header("Content-Length", str(len(reply)))
            self._headers_buffer.append(b"\r\n" + reply)
            self.flush_headers()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("listening on", sys.argv[1], flush=True)
    server.serve_forever()
