"""Operator events over WebSocket at /api/v1/events: push what an operator may see, and collision hints.

Server frames: `{"type": "hello", "operator": {...}}` on connect; then each event as
`{"type", "data", "id", "at"}`; `{"type": "resync"}` when the bus may have lost events (re-fetch
from the API, docs/reliability.md#reconnect-resync); `{"type": "pong"}`; `{"type": "error", "code", "message"}`.
Client frames: `{"type": "viewing" | "typing" | "left", "conversation_id": N, "private"?: bool}` and
`{"type": "ping"}`. A console should repeat `viewing` every ~20 s while the conversation is open;
the hub publishes `left` itself when a socket closes.

Every event is filtered per socket with `Audience.admits(scope)`. The scope is re-read from the
store every 30 s and at once when an operator's sessions or rights change (`auth.SESSIONS_TOPIC`);
a revoked or expired session, or a deactivated operator, gets close code 4401 (docs/reliability.md#revoked-sessions).
Sockets authenticated by cookie must come from our own origin (cross-site WebSocket hijacking).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lines.console.access import Scope
from lines.console.api.route_table import MAX_ID, Route, describe, routes_key
from lines.console.auth import SESSIONS_TOPIC, AuthError, authenticate, context_for_token, live_scopes
from lines.console.bus.base import RESYNC_TOPIC, Payload
from lines.console.events import EVENTS_TOPIC, Audience
from lines.console.inbox import load_conversation
from lines.console.keys import bus_key, events_key, metrics_key, sessions_key, settings_key
from lines.console.models import Operator
from lines.console.serialize import operator_dict

log = logging.getLogger(__name__)

PATH = "/api/v1/events"
HEARTBEAT_SECONDS = 30.0
RECHECK_SECONDS = 30.0
MAX_MSG_SIZE = 4096  # client frames are tiny; bounds memory per socket
QUEUE_FRAMES = 2000  # a console this far behind is closed and resyncs on reconnect
FRAMES_PER_WINDOW = 60
FRAME_WINDOW_SECONDS = 10.0
CLOSE_SESSION_ENDED = 4401
CLOSE_TOO_SLOW = 4408


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PingFrame(_Frame):
    type: Literal["ping"]


class ConversationFrame(_Frame):
    type: Literal["viewing", "typing", "left"]
    conversation_id: Annotated[int, Field(gt=0, le=MAX_ID)]
    private: bool = False  # typing a private note: the customer's channel must not show it


ClientFrame = TypeAdapter(Annotated[PingFrame | ConversationFrame, Field(discriminator="type")])


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


@dataclass(eq=False)
class OperatorSocket:
    """One connected console tab."""

    ws: web.WebSocketResponse
    session_id: int
    operator: Operator
    scope: Scope
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    viewing: set[int] = field(default_factory=set)
    held: list[tuple[Audience, str]] | None = None  # events waiting while the session is re-checked
    changes: int = 0  # announcements of a rights change seen so far
    window_start: float = 0.0
    window_frames: int = 0

    def push(self, frame: str) -> bool:
        """Queue a frame for the writer; False when the console is too far behind."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True


class OperatorHub:
    """The app's connected consoles: fans bus events out to the sockets allowed to see them."""

    def __init__(self, app: web.Application, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self._app = app
        self.recheck_seconds = recheck_seconds
        self.sockets: set[OperatorSocket] = set()
        self.closing = False
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._recheck_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        bus = self._app[bus_key]
        self._unsubscribe = [
            bus.subscribe(EVENTS_TOPIC, self._on_event),
            bus.subscribe(RESYNC_TOPIC, self._on_resync),
            bus.subscribe(SESSIONS_TOPIC, self._on_sessions),
        ]
        self._recheck_task = asyncio.create_task(self._recheck_loop(), name="operator-ws-recheck")

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        await self.close_all()
        # Let running re-checks finish rather than cancel them mid-query: a cancelled aiosqlite call
        # still completes in its thread and would report to a loop that may be gone.
        self._stopping.set()
        tasks = [t for t in (self._recheck_task, *self._tasks) if t is not None]
        _done, pending = await asyncio.wait(tasks, timeout=5) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._recheck_task = None

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"server shutdown") -> None:
        self.closing = True
        await asyncio.gather(*(s.ws.close(code=code, message=message) for s in list(self.sockets)))

    def add(self, socket: OperatorSocket) -> None:
        self.sockets.add(socket)
        self._app[metrics_key].operator_sockets.set(len(self.sockets))

    def remove(self, socket: OperatorSocket) -> None:
        self.sockets.discard(socket)
        self._app[metrics_key].operator_sockets.set(len(self.sockets))

    def _deliver(self, socket: OperatorSocket, frame: str) -> None:
        if not socket.push(frame):
            log.warning("operator %s socket is too slow; closing it", socket.operator.login)
            self.remove(socket)
            self._spawn(socket.ws.close(code=CLOSE_TOO_SLOW, message=b"too far behind; reconnect and resync"))

    def _offer(self, socket: OperatorSocket, audience: Audience, frame: str) -> None:
        if socket.held is not None:
            if len(socket.held) < QUEUE_FRAMES:
                socket.held.append((audience, frame))
        elif audience.admits(socket.scope):
            self._deliver(socket, frame)

    async def _on_event(self, event: Payload) -> None:
        audience = Audience.from_dict(event.get("audience") or {})
        frame = _dumps({"type": event["type"], "data": event["data"], "id": event["id"], "at": event["at"]})
        for socket in list(self.sockets):
            self._offer(socket, audience, frame)

    async def _on_resync(self, _payload: Payload) -> None:
        frame = _dumps({"type": "resync"})
        for socket in list(self.sockets):
            self._offer(socket, Audience(everyone=True), frame)

    async def _on_sessions(self, payload: Payload) -> None:
        """The operator's sessions or rights changed: hold their events until the store says what they may see.

        Events published after the change (they come after this announcement on the bus) are held,
        then filtered with the new scope, so not one slips through with the old rights.
        """
        operator_id = payload.get("operator_id")
        affected = [s for s in self.sockets if s.operator.id == operator_id]
        for socket in affected:
            socket.changes += 1
            if socket.held is None:
                socket.held = []
        if affected:  # off the bus's dispatch loop: it is a database round trip
            self._spawn(self._recheck_or_close(affected))

    async def _recheck_or_close(self, sockets: list[OperatorSocket]) -> None:
        try:
            await self.recheck(sockets)
        except Exception:
            # Unverifiable rights: close, the console reconnects and authenticates afresh.
            log.exception("re-checking operator sessions failed; closing their sockets")
            for socket in sockets:
                self.remove(socket)
            await asyncio.gather(*(s.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"reconnect") for s in sockets))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recheck(self, sockets: list[OperatorSocket] | None = None) -> None:
        """Close sockets whose session ended; give the others their operator's current scope."""
        targets = list(self.sockets) if sockets is None else sockets
        if not targets:
            return
        seen = {id(s): s.changes for s in targets}
        live = await live_scopes(self._app, (s.session_id for s in targets))
        ended = []
        for socket in targets:
            current = live.get(socket.session_id)
            if current is None:
                # Drop it from the fan-out first: not one more event while the close handshake runs.
                self.remove(socket)
                ended.append(socket.ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended"))
            elif socket.changes == seen[id(socket)]:  # else a newer re-check, started later, decides
                socket.operator, socket.scope = current
                held, socket.held = socket.held, None
                for audience, frame in held or ():
                    if audience.admits(socket.scope):
                        self._deliver(socket, frame)
        await asyncio.gather(*ended)

    async def _recheck_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.recheck_seconds)
                return
            try:
                await self.recheck()
            except Exception:
                log.exception("re-checking operator sessions failed")


hub_key = web.AppKey("operator_hub", OperatorHub)


def _origin_allowed(request: web.Request) -> bool:
    origin = request.headers.get("Origin", "").rstrip("/")
    if not origin:
        return False
    server = request.app[settings_key].server
    allowed = {f"{request.scheme}://{request.host}", *server.allowed_origins}
    if server.public_url:
        parts = urlsplit(server.public_url)
        allowed.add(f"{parts.scheme}://{parts.netloc}")
    return origin in allowed


async def _handle_frame(request: web.Request, socket: OperatorSocket, raw: str) -> None:
    now = asyncio.get_running_loop().time()
    if now - socket.window_start > FRAME_WINDOW_SECONDS:
        socket.window_start, socket.window_frames = now, 0
    socket.window_frames += 1
    if socket.window_frames > FRAMES_PER_WINDOW:
        socket.push(_error("too_many_frames", "slow down"))
        return
    try:
        frame = ClientFrame.validate_json(raw)
    except ValidationError as err:
        unknown = any(e["type"] in ("union_tag_invalid", "union_tag_not_found") for e in err.errors())
        if unknown:
            socket.push(_error("unknown_type", "type must be one of ping, viewing, typing, left"))
        elif any(e["type"] == "json_invalid" for e in err.errors()):
            socket.push(_error("invalid_json", "frame is not valid JSON"))
        else:
            socket.push(_error("invalid_frame", describe(err)))
        return
    if isinstance(frame, PingFrame):
        socket.push(_dumps({"type": "pong"}))
        return
    if not await _publish_presence(request.app, socket, frame.type, frame.conversation_id, frame.private):
        socket.push(_error("not_found", f"conversation {frame.conversation_id} not found"))


async def _publish_presence(
    app: web.Application, socket: OperatorSocket, kind: str, conversation_id: int, private: bool = False
) -> bool:
    """Publish viewing/typing/left to the conversation's audience; False if the operator cannot see it."""
    async with app[sessions_key]() as session:
        conversation = await load_conversation(session, conversation_id)
    if conversation is None or not socket.scope.can_see_conversation(conversation):
        socket.viewing.discard(conversation_id)
        return False
    if kind == "viewing":
        socket.viewing.add(conversation_id)
    elif kind == "left":
        socket.viewing.discard(conversation_id)
    data: dict[str, Any] = {
        "conversation_id": conversation_id,
        "who": "operator",
        "operator": {"id": socket.operator.id, "name": socket.operator.name},
    }
    if kind == "typing":
        data["private"] = private
    await app[events_key].send(f"conversation.{kind}", data, Audience.of(conversation))
    return True


def _error(code: str, message: str) -> str:
    return _dumps({"type": "error", "code": code, "message": message})


async def _writer(socket: OperatorSocket) -> None:
    while True:
        frame = await socket.queue.get()
        await socket.ws.send_str(frame)


async def events_ws(request: web.Request) -> web.StreamResponse:
    """Server frames: `hello` {operator}; events {type, data, id, at}; `resync`; `pong`; `error`
    {code, message}. Client frames: {type: viewing|typing|left, conversation_id, private?} and
    {type: ping}. Close 4401: the session ended (log in again); 4408: too far behind (reconnect and
    re-fetch); 1001: server shutdown. Cookie sessions must connect from this site's origin."""
    hub = request.app.get(hub_key)
    if hub is None or hub.closing:
        raise web.HTTPServiceUnavailable(reason="shutting down")
    token = request.query.get("token")
    ctx = await context_for_token(request.app, token, "bearer") if token else await authenticate(request)
    if ctx is None:
        raise AuthError(401, "unauthenticated", "log in first: bearer token or session cookie required")
    if ctx.via == "cookie" and not _origin_allowed(request):
        raise AuthError(403, "forbidden_origin", "cookie-authenticated sockets must come from this site's origin")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MSG_SIZE, compress=False)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(reason="expected a WebSocket upgrade")
    await ws.prepare(request)
    socket = OperatorSocket(ws, ctx.session_id, ctx.operator, ctx.scope)
    socket.push(_dumps({"type": "hello", "operator": operator_dict(ctx.operator)}))
    hub.add(socket)
    writer = asyncio.create_task(_writer(socket), name=f"operator-ws-{ctx.operator.login}")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    await _handle_frame(request, socket, msg.data)
                except Exception:  # one bad frame must not end the console's socket
                    log.exception("operator %s frame failed", socket.operator.login)
                    socket.push(_error("internal_error", "internal error; it has been logged"))
            elif msg.type == WSMsgType.BINARY:
                socket.push(_error("binary_not_supported", "send JSON text frames"))
    finally:
        hub.remove(socket)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await writer
        await _announce_left(request.app, socket)
    return ws


async def _announce_left(app: web.Application, socket: OperatorSocket) -> None:
    for conversation_id in sorted(socket.viewing):
        try:
            await _publish_presence(app, socket, "left", conversation_id)
        except Exception:
            log.exception("announcing that operator %s left %s failed", socket.operator.login, conversation_id)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = OperatorHub(app)
    await hub.start()
    app[hub_key] = hub
    yield
    await hub.stop()


async def _close_sockets(app: web.Application) -> None:
    """On shutdown, before aiohttp waits for handlers: open sockets would hold it up."""
    hub = app.get(hub_key)
    if hub is not None:
        await hub.close_all()


DOC_ROUTE = Route(
    "GET",
    PATH,
    None,
    "Operator events WebSocket (bearer token in ?token= or Authorization, or the session cookie)",
    None,
    errors=(403,),
    tag="events",
    websocket=True,
    name=events_ws.__name__,
)


def setup(app: web.Application) -> None:
    """Add the events route and its hub."""
    app.router.add_get(PATH, events_ws, name="operator_events")
    app[routes_key].append(DOC_ROUTE)
    app.cleanup_ctx.append(_hub_ctx)
    app.on_shutdown.append(_close_sockets)
