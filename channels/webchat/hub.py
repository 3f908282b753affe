"""The visitor sockets open in this process, and the bus subscriptions that feed them.

Every process runs one hub. Replies are published on the bus topic `webchat` by whichever process
delivers the outbox row; each hub pushes the frame to the sockets it holds for that visitor (all
their tabs). Operator typing arrives as `conversation.typing` on the events topic and goes to the
sockets attached to that conversation. A push is queued per socket and written by the socket's own
writer task, so one slow visitor never holds up the bus or the others; one that falls too far
behind is closed and catches up through `last_seen` when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web

from lines.channels.webchat.visitor import Visitor
from lines.console.bus import EventBus
from lines.console.events import EVENTS_TOPIC

log = logging.getLogger(__name__)
WEBCHAT_TOPIC = "webchat"
QUEUE_FRAMES = 256
SEND_TIMEOUT = 10.0


def outbound_payload(
    site: str, visitor: str, conversation_id: int | None, frame: dict[str, Any], skip_socket: str | None = None
) -> dict[str, Any]:
    """What goes on the `webchat` topic: one frame for every socket of one visitor on one site."""
    payload: dict[str, Any] = {"site": site, "visitor": visitor, "conversation_id": conversation_id, "frame": frame}
    if skip_socket:
        payload["skip_socket"] = skip_socket
    return payload


@dataclass(eq=False)
class VisitorSocket:
    """One open widget connection; `visitor` is set once its hello is accepted."""

    ws: web.WebSocketResponse
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    visitor: Visitor | None = None
    conversation_id: int | None = None
    history_ids: frozenset[int] = frozenset()
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    writer: asyncio.Task[None] | None = None

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send now (answers to the visitor's own frames); False when the socket is gone."""
        if self.ws.closed:
            return False
        try:
            await asyncio.wait_for(self.ws.send_json(frame), SEND_TIMEOUT)
        except (ConnectionError, RuntimeError, TimeoutError):
            return False
        return True

    def push(self, frame: dict[str, Any]) -> bool:
        """Queue a frame from the bus; False when the visitor is too far behind."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def start_writer(self) -> None:
        """Start writing queued pushes; pushes queued before the welcome go out right after it."""
        if self.writer is None:
            self.writer = asyncio.create_task(self._write(), name=f"webchat-writer-{self.id}")

    async def stop_writer(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.writer
            self.writer = None

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            # A reply that landed in the welcome's history is not sent twice.
            if frame.get("type") == "message" and frame.get("id") in self.history_ids:
                continue
            if not await self.send(frame):
                await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"send failed")
                return


class Hub:
    def __init__(self) -> None:
        self._by_visitor: dict[tuple[str, str], set[VisitorSocket]] = {}
        self._by_conversation: dict[int, set[VisitorSocket]] = {}
        self._open: set[VisitorSocket] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._closing: set[asyncio.Task[Any]] = set()

    def start(self, bus: EventBus) -> None:
        """Subscribe to the bus (idempotent: every site's channel calls it)."""
        if not self._unsubscribe:
            self._unsubscribe = [
                bus.subscribe(WEBCHAT_TOPIC, self._on_webchat),
                bus.subscribe(EVENTS_TOPIC, self._on_event),
            ]

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def add(self, sock: VisitorSocket) -> None:
        self._open.add(sock)

    def attach(self, sock: VisitorSocket, visitor: Visitor) -> None:
        """Route the visitor's pushes to this socket (before its history is read, so none slip by)."""
        sock.visitor = visitor
        self._by_visitor.setdefault((visitor.site, visitor.external_id), set()).add(sock)

    def set_conversation(self, sock: VisitorSocket, conversation_id: int | None) -> None:
        if conversation_id == sock.conversation_id:
            return
        self._discard(self._by_conversation, sock.conversation_id, sock)
        sock.conversation_id = conversation_id
        if conversation_id is not None:
            self._by_conversation.setdefault(conversation_id, set()).add(sock)

    def remove(self, sock: VisitorSocket) -> None:
        self._open.discard(sock)
        if sock.visitor is not None:
            self._discard(self._by_visitor, (sock.visitor.site, sock.visitor.external_id), sock)
        self._discard(self._by_conversation, sock.conversation_id, sock)

    @staticmethod
    def _discard(index: dict[Any, set[VisitorSocket]], key: Any, sock: VisitorSocket) -> None:
        sockets = index.get(key)
        if sockets is not None:
            sockets.discard(sock)
            if not sockets:
                del index[key]

    async def close_all(self, app: web.Application | None = None) -> None:
        """On shutdown: tell every widget we are going away (it reconnects with backoff)."""
        for sock in list(self._open):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await sock.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    def _deliver(self, sock: VisitorSocket, frame: dict[str, Any]) -> None:
        if not sock.push(frame):
            log.warning("web-chat socket %s fell %d frames behind; closing it", sock.id, QUEUE_FRAMES)
            task = asyncio.create_task(sock.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _on_webchat(self, payload: dict[str, Any]) -> None:
        site, visitor, frame = payload.get("site"), payload.get("visitor"), payload.get("frame")
        if not isinstance(site, str) or not isinstance(visitor, str) or not isinstance(frame, dict):
            log.warning("malformed webchat payload dropped: %r", list(payload)[:5])
            return
        conversation_id = payload.get("conversation_id")
        for sock in list(self._by_visitor.get((site, visitor), ())):
            if sock.id == payload.get("skip_socket"):
                continue
            if isinstance(conversation_id, int):
                self.set_conversation(sock, conversation_id)
            self._deliver(sock, frame)

    async def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") != "conversation.typing":
            return
        data = event.get("data") or {}
        # Someone typing a private note must never show as typing to the customer.
        if data.get("who") != "operator" or data.get("private"):
            return
        for sock in list(self._by_conversation.get(data.get("conversation_id"), ())):  # type: ignore[arg-type]
            self._deliver(sock, {"type": "typing"})
