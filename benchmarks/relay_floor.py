"""The floor for benchmarks/webchat.py: a bare aiohttp WebSocket relay speaking the widget's frames.

Visitors connect to /ws (hello -> welcome, message -> ack), operators to /events; every visitor
message is forwarded to every operator as `message.created`. No storage, no auth, no limits:
the least any web-chat server has to do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid

import aiohttp
from aiohttp import web

operators_key = web.AppKey("operators", set[web.WebSocketResponse])


async def visitor(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    operators = request.app[operators_key]
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        frame = json.loads(msg.data)
        if frame.get("type") == "hello":
            await ws.send_json({"type": "welcome", "visitor": uuid.uuid4().hex, "conversation": None, "history": []})
        elif frame.get("type") == "message":
            await ws.send_json({"type": "ack", "client_id": frame["client_id"], "id": 0})
            event = json.dumps({"type": "message.created", "data": {"text": frame["text"]}})
            for op in list(operators):
                await op.send_str(event)
    return ws


async def events(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    request.app[operators_key].add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        request.app[operators_key].discard(ws)
    return ws


async def info(request: web.Request) -> web.Response:
    return web.json_response({"pid": os.getpid()})


async def serve(port: int) -> None:
    app = web.Application()
    app[operators_key] = set()
    app.router.add_get("/ws", visitor)
    app.router.add_get("/events", events)
    app.router.add_get("/info", info)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
