#!/usr/bin/python3
"""Opens N idle HTTP/2 connections to PORT (preface, SETTINGS, the
server's SETTINGS read) and holds them until stdin closes; prints "open"
once they all are. bench/grpc.sh reads a server's memory around it.

    h2_idle.py PORT N
"""
import socket
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00" \
    + b"\x00\x00\x00\x00"
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(PREFACE)
    if not s.recv(65536):
        sys.exit("closed by the server")
    conns.append(s)
print("open", flush=True)
sys.stdin.read()
