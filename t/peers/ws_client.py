#!/usr/bin/env python3
"""A WebSocket client on python3-websockets (a third-party peer): connects
to URL, sends each further argument as a text message and then one binary
message, waiting for each reply; prints the replies as JSON (the binary
one in hex) and closes cleanly.

    ws_client.py URL [MESSAGE ...]
"""

import asyncio
import json
import sys

import websockets


async def main(url, messages):
    replies = []
    async with websockets.connect(url, open_timeout=60,
                                  close_timeout=60) as ws:
        for m in messages:
            await ws.send(m)
            replies.append(await asyncio.wait_for(ws.recv(), 60))
        await ws.send(b"\x00\x01\xff")
        replies.append((await asyncio.wait_for(ws.recv(), 60)).hex())
    print(json.dumps(replies))


asyncio.run(main(sys.argv[1], sys.argv[2:]))
