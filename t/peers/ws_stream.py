#!/usr/bin/python3
"""A WebSocket client of the gateway's streams, on python3-websockets (a
third-party peer): sends each MESSAGE as a text frame and prints each
reply as a line {"reply": ...} as it comes, then {"code": N, "reason": R}
once the gateway closes.

    ws_stream.py URL lockstep MSG...   a reply awaited after each message,
                                       then a close frame
    ws_stream.py URL end MSG...        all messages, then an empty frame
                                       (the end of the requests), then the
                                       replies
    ws_stream.py URL open MSG...       all messages, then the replies,
                                       until the gateway closes
"""

import asyncio
import json
import sys

import websockets


def out(obj):
    print(json.dumps(obj), flush=True)


async def main(url, mode, messages):
    async with websockets.connect(url, open_timeout=60,
                                  close_timeout=60) as ws:
        try:
            for m in messages:
                await ws.send(m)
                if mode == "lockstep":
                    out({"reply": json.loads(
                        await asyncio.wait_for(ws.recv(), 60))})
            if mode == "end":
                await ws.send("")
            if mode == "lockstep":
                await ws.close()
            async for reply in ws:
                out({"reply": json.loads(reply)})
        except websockets.ConnectionClosed:
            pass
    out({"code": ws.close_code, "reason": ws.close_reason})


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
