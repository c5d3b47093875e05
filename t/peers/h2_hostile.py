#!/usr/bin/python3
"""Bad HTTP/2 peers for libmicro's gRPC server (t/libmicro/grpc.t), with
python3-h2 where frames must be well formed and raw bytes where not.
Prints one line saying what the server did.

    h2_hostile.py PORT CASE     CASE: garbage, bigframe, badpreface,
                                headerflood, unfinished, silent
"""
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = struct.pack(">I", 0)[1:] + b"\x04\x00" + struct.pack(">I", 0)
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=60)


def frames_until_close(limit=60):
    """(GOAWAY error code or None, bytes read) until the server closes."""
    data = b""
    end = time.monotonic() + limit
    s.settimeout(5)
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    else:
        return "open", data
    pos, goaway = 0, None
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos:pos + 3], "big")
        if data[pos + 3] == 7 and pos + 9 + 8 <= len(data):
            goaway = int.from_bytes(data[pos + 13:pos + 17], "big")
        pos += 9 + length
    return goaway, data


def grpc_call(headers, body, end_stream=True):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                            (":path", "/micro.shapes.Shapes/Echo"),
                            (":authority", "x"),
                            ("content-type", "application/grpc"),
                            ("te", "trailers")] + headers)
    conn.send_data(sid, body, end_stream=end_stream)
    s.sendall(conn.data_to_send())
    got = {}
    s.settimeout(60)
    while True:
        data = s.recv(65536)
        if not data:
            return "closed"
        for ev in conn.receive_data(data):
            if isinstance(ev, (h2.events.ResponseReceived,
                               h2.events.TrailersReceived)):
                got.update(dict(ev.headers))
            if isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                return "grpc-status %s %s" % (got.get("grpc-status"),
                                              got.get("grpc-message", ""))
        s.sendall(conn.data_to_send())


case = sys.argv[2]
if case == "garbage":
    s.sendall(PREFACE + SETTINGS + b"\xff" * 64)
    print("goaway %s" % frames_until_close()[0])
elif case == "bigframe":
    # a DATA frame of 1 MiB: over the 16 kB SETTINGS_MAX_FRAME_SIZE
    s.sendall(PREFACE + SETTINGS + b"\x10\x00\x00\x00\x00\x00\x00\x00\x01"
              + b"\x00" * 1024)
    print("goaway %s" % frames_until_close()[0])
elif case == "badpreface":
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    goaway, data = frames_until_close()
    print(data.split(b"\r\n")[0].decode("latin-1") or "closed")
elif case == "headerflood":
    print(grpc_call([("x-flood-%d" % i, "v" * 100) for i in range(300)],
                    b"\x00\x00\x00\x00\x00"))
elif case == "unfinished":
    # half a message and no END_STREAM: the read timeout answers
    print(grpc_call([], b"\x00\x00\x00\x00\x10ab", end_stream=False))
elif case == "silent":
    # never a byte back, not even the pings' acks: keepalive closes it
    s.sendall(PREFACE + SETTINGS)
    goaway, data = frames_until_close()
    print("closed" if goaway != "open" else "still open")
