"""A real WebSocket client (python websockets) for the timeout tests.

usage: client.py stay URL           stay connected (answering the server's
                                     pings) until the server sends a message,
                                     then close with 1000
       client.py wait URL           send nothing and wait for the server's
                                     close; print what was received and sent
Prints one JSON object on stdout.
"""
import asyncio
import json
import sys

import websockets


async def main():
    mode, url = sys.argv[1], sys.argv[2]
    # ping_interval=None: only the server pings; the library answers them.
    async with websockets.connect(url, ping_interval=None, close_timeout=5) as ws:
        if mode == "stay":
            reply = await ws.recv()
            print(json.dumps({"reply": reply}))
            return
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as e:
            print(json.dumps({
                "code": e.rcvd.code if e.rcvd else None,
                "reason": e.rcvd.reason if e.rcvd else None,
                "sent": e.sent.code if e.sent else None,
                "rcvd_then_sent": e.rcvd_then_sent,
            }))


asyncio.run(main())
