#!/usr/bin/env python3
"""WebSocket echo load (python3-websockets): N connections to URL, each
sending a 32-byte text message and waiting for its echo, for SECONDS.
Prints "messages/s p50 p99" (latencies in ms, as wrk's rows); any
connection error or wrong echo exits non-zero.

    ws_echo.py URL N SECONDS
"""

import asyncio
import sys
import time

import websockets


async def client(url, until, latencies):
    msg = "x" * 32
    async with websockets.connect(url, open_timeout=30) as ws:
        while time.monotonic() < until:
            t0 = time.monotonic()
            await ws.send(msg)
            if await asyncio.wait_for(ws.recv(), 30) != msg:
                raise SystemExit("wrong echo")
            latencies.append(time.monotonic() - t0)


async def main(url, n, seconds):
    latencies = []
    start = time.monotonic()
    await asyncio.gather(*(client(url, start + seconds, latencies)
                           for _ in range(n)))
    elapsed = time.monotonic() - start
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print("%d %.3fms %.3fms" % (len(latencies) / elapsed, p(0.5) * 1000,
                                p(0.99) * 1000))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
