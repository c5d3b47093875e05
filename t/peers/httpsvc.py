#!/usr/bin/env python3
"""A plain-HTTP API service for the proxy handler tests, on Python's
standard library: any request is answered with what arrived, as JSON;
a path ending in /chunked is answered in chunks, one ending in
/status/NNN with that status, one ending in /early at once, its body
unread; a WebSocket upgrade (RFC 6455) is accepted
and each message echoed back as "NAME: message". Prints "listening on
PORT" once it accepts connections.

    httpsvc.py PORT NAME
"""

import base64
import hashlib
import json
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keepalive, as NGINX asks

    def log_message(self, fmt, *args):
        pass

    def handle_any(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path.endswith("/early"):       # answers before the body
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"early")
            self.close_connection = True
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        reply = json.dumps({
            "node": NAME,
            "conn": self.client_address[1],   # NGINX's side of the socket
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body,
        }).encode()
        if self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(reply), 50):
                part = reply[i:i + 50]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 200
        if "/status/" in self.path:
            status = int(self.path.rsplit("/", 1)[1])
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("X-Node", NAME)
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            opcode, data = self.read_frame()
            if opcode is None or opcode == 8:        # gone, or close
                self.write_frame(8, data or b"")
                break
            if opcode == 9:                           # ping
                self.write_frame(10, data)
            elif opcode in (1, 2):
                prefix = (NAME + ": ").encode()
                self.write_frame(opcode, prefix + data)
        self.close_connection = True

    def read_frame(self):
        head = self.rfile.read(2)
        if len(head) < 2:
            return None, None
        opcode = head[0] & 0x0F
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.rfile.read(8))[0]
        mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = bytearray(self.rfile.read(n))
        for i in range(len(data)):
            data[i] ^= mask[i % 4]
        return opcode, bytes(data)

    def write_frame(self, opcode, data):
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.wfile.write(head + data)
        self.wfile.flush()


if __name__ == "__main__":
    port, NAME = int(sys.argv[1]), sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("listening on %d" % port, flush=True)
    server.serve_forever()
