"""Real-client checks for the ratelimit tests, with Python websockets.

usage: client.py flood URL N      send N text messages as fast as possible
       client.py big URL SIZE     send one binary message of SIZE bytes

Prints one JSON line: {"code": ..., "reason": ..., "echoes": ...}, the
Close frame the server sent and the number of echoes read before it.
"""
import asyncio
import json
import sys

import websockets


async def main(mode, url, n):
    echoes = 0
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        try:
            if mode == "flood":
                for i in range(n):
                    await ws.send(str(i))
            else:
                await ws.send(b"x" * n)
            while True:
                await asyncio.wait_for(ws.recv(), 10)
                echoes += 1
        except websockets.ConnectionClosed as e:
            rcvd = e.rcvd
            print(json.dumps({
                "code": rcvd.code if rcvd else None,
                "reason": rcvd.reason if rcvd else None,
                "echoes": echoes,
            }))
            return
    print(json.dumps({"code": None, "reason": None, "echoes": echoes}))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
