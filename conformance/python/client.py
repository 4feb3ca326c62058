#!/usr/bin/python3
"""A wsmw conformance client on Python websockets (Debian's python3-websockets 10.4).

Usage: /usr/bin/python3 client.py '<JSON config>'

It connects, plays the steps the config asks for, and prints one JSON
object per line on stdout for every event (open, message, ready, close,
unexpected-response, error). The Go side (conformance/*_test.go) reads them.

Config keys:
  url            ws:// URL of /ws (may carry ?access_token=)
  protocols      Sec-WebSocket-Protocol offers, e.g. ["bearer", "<token>"]
  headers        extra request headers, e.g. {"Authorization": "Bearer <token>"}
  origin         Origin header to send
  hello          send "hello" and wait for its echo first
  refresh_bad    send a refresh with a bad token and wait for the error answer
  refresh        send a refresh with this token and wait for the answer
  payload_size   send one text message of this many bytes
  flood          send this many small messages back to back
  tick_ms        keep sending "tick" every tick_ms until the connection closes
  close          close from the client side with [code, reason] after the steps
  timeout_ms     bound for the whole run (default 15000)
"""

import asyncio
import json
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode


def emit(event, **fields):
    fields["event"] = event
    print(json.dumps(fields), flush=True)


async def reader(ws, inbox):
    """Read until the connection ends; every message goes to inbox."""
    try:
        async for msg in ws:
            if isinstance(msg, bytes):
                emit("message", binary=True, size=len(msg))
            else:
                emit("message", data=msg[:200], size=len(msg))
            await inbox.put(msg)
    except ConnectionClosed:
        pass
    finally:
        await inbox.put(None)


async def expect(inbox, pred, what):
    while True:
        msg = await inbox.get()
        if msg is None:
            raise RuntimeError("connection closed while waiting for " + what)
        if pred(msg):
            return msg


def reply_type(want):
    def pred(msg):
        if not isinstance(msg, str) or not msg.startswith("{"):
            return False
        try:
            return json.loads(msg).get("type") == want
        except ValueError:
            return False
    return pred


async def ticker(ws, every):
    try:
        while True:
            await asyncio.sleep(every)
            await ws.send("tick")
    except ConnectionClosed:
        pass


async def run(cfg):
    try:
        ws = await websockets.connect(
            cfg["url"],
            subprotocols=cfg.get("protocols") or None,
            extra_headers=cfg.get("headers") or None,
            origin=cfg.get("origin"),
            compression=None,
            open_timeout=5,
            close_timeout=5,
            ping_interval=None,  # the server pings; websockets answers on its own
            max_size=None,
        )
    except InvalidStatusCode as e:
        emit("unexpected-response", status=e.status_code,
             wwwAuthenticate=e.headers.get("WWW-Authenticate", ""))
        return
    emit("open", protocol=ws.subprotocol or "")
    inbox = asyncio.Queue()
    read_task = asyncio.create_task(reader(ws, inbox))
    tick_task = None
    try:
        if cfg.get("hello"):
            await ws.send("hello")
            await expect(inbox, lambda m: m == "hello", "the echo of hello")
        if cfg.get("refresh_bad"):
            await ws.send(json.dumps({"type": "refresh", "token": "not-a-token"}))
            await expect(inbox, reply_type("error"), "the refusal of a bad refresh")
        if cfg.get("refresh"):
            await ws.send(json.dumps({"type": "refresh", "token": cfg["refresh"]}))
            await expect(inbox, reply_type("refreshed"), "refreshed")
        if cfg.get("payload_size"):
            await ws.send("x" * cfg["payload_size"])
        for i in range(cfg.get("flood", 0)):
            await ws.send("flood %d" % i)
        if cfg.get("tick_ms"):
            tick_task = asyncio.create_task(ticker(ws, cfg["tick_ms"] / 1000))
        emit("ready")
        if cfg.get("close"):
            code, reason = cfg["close"]
            await ws.close(code, reason)
    except ConnectionClosed:
        pass  # the server closed first; the close event tells how
    except RuntimeError as e:
        emit("error", error=str(e))
    await read_task
    if tick_task:
        await tick_task
    await ws.wait_closed()
    rcvd, sent = getattr(ws, "close_rcvd", None), getattr(ws, "close_sent", None)
    emit("close", code=ws.close_code, reason=ws.close_reason,
         # the close handshake completed: Close frames went both ways
         wasClean=rcvd is not None and sent is not None,
         rcvd=[rcvd.code, rcvd.reason] if rcvd else None,
         sent=[sent.code, sent.reason] if sent else None,
         rcvdThenSent=getattr(ws, "close_rcvd_then_sent", None))


def main():
    cfg = json.loads(sys.argv[1])
    try:
        asyncio.run(asyncio.wait_for(run(cfg), cfg.get("timeout_ms", 15000) / 1000))
    except asyncio.TimeoutError:
        emit("error", error="timed out")
        sys.exit(3)
    except Exception as e:  # report, never hang
        emit("error", error="%s: %s" % (type(e).__name__, e))
        sys.exit(4)


if __name__ == "__main__":
    main()
