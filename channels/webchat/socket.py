"""The visitor's WebSocket `/webchat/{site_key}/ws`: hello, messages, typing (docs/webchat.md).

Every refusal is an `error` frame and the socket stays open, except the two that must end it:
too many new visitors from one address, and a frame over `MAX_FRAME` (aiohttp closes with 1009
before the frame is buffered).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

from aiohttp import WSCloseCode, WSMsgType, web

from lines.channels.base import ContactInfo, InboundMessage
from lines.channels.webchat import protocol as p
from lines.channels.webchat.config import WebchatSite
from lines.channels.webchat.guard import Refused, check_origin, json_error, site_for
from lines.channels.webchat.hub import WEBCHAT_TOPIC, VisitorSocket, outbound_payload
from lines.channels.webchat.state import WebchatState, webchat_key
from lines.channels.webchat.visitor import (
    Visitor,
    identity_valid,
    new_visitor_id,
    sign_visitor,
    verify_visitor,
)
from lines.console.netutil import client_ip

log = logging.getLogger(__name__)

CHANNEL = "webchat"
MAX_FRAME = 64 * 1024
HEARTBEAT_SECONDS = 25.0
HELLO_TIMEOUT = 30.0
TYPING_INTERVAL = 2.0
RETRY_AFTER_UNAVAILABLE = 5


def max_frame(site: WebchatSite) -> int:
    """Chat-sized, yet room for the longest allowed text even if every character is JSON-escaped."""
    return max(MAX_FRAME, site.max_message_chars * 6 + 4096)


def visitor_limit_key(site: str, external_id: str) -> str:
    return f"webchat:msg:{site}:{external_id}"


def contact_info(visitor: Visitor) -> ContactInfo:
    return ContactInfo(
        external_id=visitor.external_id,
        name=visitor.name,
        email=visitor.email,
        verified=visitor.verified,
        display=visitor.email or visitor.name,
    )


class VisitorSession:
    """One socket's conversation with the server, from hello to close."""

    def __init__(self, state: WebchatState, site: WebchatSite, request: web.Request, sock: VisitorSocket) -> None:
        self.state = state
        self.site = site
        self.request = request
        self.sock = sock
        self.visitor: Visitor | None = None
        self.page = p.Page()
        self.last_typing = 0.0

    @property
    def ws(self) -> web.WebSocketResponse:
        return self.sock.ws

    async def error(self, code: str, message: str, **extra: Any) -> None:
        await self.sock.send(p.error_frame(code, message, **extra))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HELLO_TIMEOUT
        while not self.ws.closed:
            timeout = None if self.visitor else max(0.0, deadline - loop.time())
            try:
                msg = await self.ws.receive(timeout=timeout)
            except TimeoutError:
                await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"no hello")
                return
            if msg.type == WSMsgType.TEXT:
                if not await self.on_text(msg.data):
                    return
            elif msg.type == WSMsgType.BINARY:
                await self.error(p.BAD_FRAME, "binary frames are not part of the protocol; send JSON text")
            else:  # CLOSE, CLOSING, CLOSED or ERROR (1009 for an oversize frame is sent by aiohttp)
                return

    async def on_text(self, data: str) -> bool:
        """Handle one frame; False ends the connection."""
        try:
            frame = p.parse_frame(data)
            return await HANDLERS[type(frame)](self, frame)
        except p.FrameError as err:
            await self.error(err.code, err.message, client_id=err.client_id)
            return True

    async def on_hello(self, hello: p.Frame) -> bool:
        assert isinstance(hello, p.Hello)
        if self.visitor is not None:
            raise p.FrameError(p.BAD_FRAME, "hello was already accepted on this connection")
        context = self.state.context
        secret = context.settings.server.secret_key.get_secret_value()
        site_key = self.site.site_key
        visitor_id = verify_visitor(secret, site_key, hello.visitor) if hello.visitor else None
        if visitor_id is None:
            limit = self.site.new_conversations_per_ip_per_hour
            if limit:
                ip = client_ip(self.request)
                verdict = await context.limiter.hit(f"webchat:new:{site_key}:{ip}", limit, 3600)
                if not verdict.allowed:
                    await self.error(
                        p.TOO_MANY_VISITORS,
                        "too many new chats from this address; try again later",
                        retry_after=verdict.retry_after,
                    )
                    await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many visitors")
                    return False
            visitor_id = new_visitor_id()
        visitor = Visitor.anonymous(site_key, visitor_id)
        claim = hello.identity
        if claim is not None:
            if identity_valid(self.site.identity_secret.get_secret_value(), claim.id, claim.hash):
                visitor = Visitor.identified(site_key, visitor_id, claim.id, claim.name, claim.email)
            else:
                await self.error(
                    p.IDENTITY_REJECTED, "the identity's hash does not verify; chatting as an anonymous visitor"
                )
        if self.site.identity_required and not visitor.verified:
            await self.error(p.IDENTITY_REQUIRED, "this chat is for signed-in customers: a verified identity is needed")
            await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"identity required")
            return False
        self.page = hello.page
        # Attached before the history is read: a reply sent meanwhile is queued, not missed.
        self.state.hub.attach(self.sock, visitor)
        try:
            conversation_id, history = await context.history(CHANNEL, site_key, visitor.external_id, hello.last_seen)
        except Exception:
            log.exception("web-chat history for %s/%s failed", site_key, visitor_id)
            await self.error(p.UNAVAILABLE, "chat history is unavailable; reconnect later")
            await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"unavailable")
            return False
        self.visitor = visitor
        self.sock.history_ids = frozenset(m["id"] for m in history)
        self.state.hub.set_conversation(self.sock, conversation_id)
        await self.sock.send(
            {
                "type": "welcome",
                "visitor": sign_visitor(secret, site_key, visitor_id),
                "conversation": conversation_id,
                "history": history,
                "availability": await self._availability(site_key),
            }
        )
        self.sock.start_writer()
        return True

    async def _availability(self, site_key: str) -> dict[str, Any] | None:
        """`{open, back_at, time_zone}` for the header; None (the widget then says "Online") if unknown."""
        try:
            openness = await self.state.context.openness(CHANNEL, site_key)
        except Exception:
            log.exception("web-chat availability for %s failed", site_key)
            return None
        back_at = openness.back_at.isoformat() if openness.back_at else None
        return {"open": openness.open, "back_at": back_at, "time_zone": openness.time_zone}

    async def on_message(self, message: p.Frame) -> bool:
        assert isinstance(message, p.ChatMessage)
        visitor = self.visitor
        if visitor is None:
            raise p.FrameError(p.HELLO_REQUIRED, "send hello first", message.client_id)
        text = p.check_text(message, self.site.max_message_chars)
        context = self.state.context
        key = visitor_limit_key(self.site.site_key, visitor.external_id)
        verdict = await context.limiter.hit(key, self.site.messages_per_minute, 60)
        if not verdict.allowed:
            await self.error(
                p.RATE_LIMITED,
                "too many messages; resend later",
                client_id=message.client_id,
                retry_after=verdict.retry_after,
            )
            return True
        inbound = InboundMessage(
            channel=CHANNEL,
            inbox=self.site.site_key,
            # Per visitor, so a resent client_id is stored once and another visitor cannot collide.
            external_id=f"{visitor.visitor_id}:{message.client_id}",
            sender=contact_info(visitor),
            text=text,
            source=self.page.as_source(),
            extra={"client_id": message.client_id},
        )
        try:
            result = await context.ingest(inbound)
        except Exception:
            log.exception("web-chat ingest for %s/%s failed", self.site.site_key, visitor.visitor_id)
            await self.error(
                p.UNAVAILABLE,
                "the message was not stored; resend later",
                client_id=message.client_id,
                retry_after=RETRY_AFTER_UNAVAILABLE,
            )
            return True
        self.state.hub.set_conversation(self.sock, result.conversation_id)
        await self.sock.send(
            {
                "type": "ack",
                "client_id": message.client_id,
                "id": result.message_id,
                "conversation": result.conversation_id,
            }
        )
        if result.created:
            await self.echo_to_other_tabs(result.conversation_id, result.message_id, message.client_id, text)
        return True

    async def echo_to_other_tabs(self, conversation_id: int, message_id: int, client_id: str, text: str) -> None:
        """The visitor's other tabs (in any process) show what this one sent."""
        assert self.visitor is not None
        frame = {
            "type": "message",
            "id": message_id,
            "author": "contact",
            "name": "",
            "text": text,
            "at": datetime.now(UTC).isoformat(),
            "client_id": client_id,
        }
        payload = outbound_payload(
            self.site.site_key, self.visitor.external_id, conversation_id, frame, skip_socket=self.sock.id
        )
        try:
            await self.state.context.bus.publish(WEBCHAT_TOPIC, payload)
        except Exception:
            log.warning("could not echo message %s to the visitor's other tabs", message_id, exc_info=True)

    async def on_typing(self, typing: p.Frame) -> bool:
        visitor = self.visitor
        if visitor is None:
            raise p.FrameError(p.HELLO_REQUIRED, "send hello first")
        now = asyncio.get_running_loop().time()
        if now - self.last_typing < TYPING_INTERVAL:
            return True
        self.last_typing = now
        try:
            await self.state.context.publish_typing(CHANNEL, self.site.site_key, visitor.external_id)
        except Exception:
            log.warning("publishing visitor typing failed", exc_info=True)
        return True

    async def on_button(self, press: p.Frame) -> bool:
        """A press on a button of a message in this visitor's conversation, ingested as the visitor's
        message with the button's label as text and `extra["button"] = {"id", "message_id"}`.
        The same button of the same message is stored once however often it is pressed."""
        assert isinstance(press, p.ButtonPress)
        visitor = self.visitor
        if visitor is None:
            raise p.FrameError(p.HELLO_REQUIRED, "send hello first")
        context = self.state.context
        key = visitor_limit_key(self.site.site_key, visitor.external_id)
        verdict = await context.limiter.hit(key, self.site.messages_per_minute, 60)
        if not verdict.allowed:
            await self.error(p.RATE_LIMITED, "too many messages; resend later", retry_after=verdict.retry_after)
            return True
        try:
            conversation_id, shown = await context.history(
                CHANNEL, self.site.site_key, visitor.external_id, press.message_id - 1
            )
        except Exception:
            log.exception("web-chat history for %s/%s failed", self.site.site_key, visitor.visitor_id)
            await self.error(p.UNAVAILABLE, "the press was not stored; press again later")
            return True
        message = next((m for m in shown[:1] if m["id"] == press.message_id), None)
        label = next((b["label"] for b in (message or {}).get("buttons", ()) if b["id"] == press.button), None)
        if conversation_id is None or label is None:
            raise p.FrameError(p.NO_SUCH_BUTTON, "no such button on a message of this chat")
        inbound = InboundMessage(
            channel=CHANNEL,
            inbox=self.site.site_key,
            external_id=f"{visitor.visitor_id}:button:{press.message_id}:{press.button}",
            sender=contact_info(visitor),
            text=label,
            source=self.page.as_source(),
            extra={"button": {"id": press.button, "message_id": press.message_id}},
        )
        try:
            result = await context.ingest(inbound)
        except Exception:
            log.exception("web-chat ingest for %s/%s failed", self.site.site_key, visitor.visitor_id)
            await self.error(p.UNAVAILABLE, "the press was not stored; press again later")
            return True
        await self.sock.send(
            {"type": "ack", "button": press.button, "message_id": press.message_id, "id": result.message_id}
        )
        if result.created:
            client_id = f"button:{press.message_id}:{press.button}"
            await self.echo_to_other_tabs(result.conversation_id, result.message_id, client_id, label)
        return True


Handler: TypeAlias = Callable[[VisitorSession, p.Frame], Awaitable[bool]]
HANDLERS: dict[type, Handler] = {
    p.Hello: VisitorSession.on_hello,
    p.ChatMessage: VisitorSession.on_message,
    p.Typing: VisitorSession.on_typing,
    p.ButtonPress: VisitorSession.on_button,
}


async def visitor_socket(request: web.Request) -> web.StreamResponse:
    """GET /webchat/{site_key}/ws: 404 for an unknown site and 403 for a foreign origin, before the upgrade."""
    state = request.app[webchat_key]
    try:
        site = site_for(request, state.context.settings)
        check_origin(request, state.context.settings, site, required=True)
    except Refused as refused:
        return refused.response()
    # compress=False: a deflate context per socket costs far more memory than chat frames save.
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=max_frame(site), compress=False)
    if not ws.can_prepare(request).ok:
        return json_error(400, "websocket_required", "this endpoint speaks WebSocket only")
    await ws.prepare(request)
    sock = VisitorSocket(ws)
    state.hub.add(sock)
    gauge = state.context.metrics.webchat_sockets
    gauge.inc()
    try:
        await VisitorSession(state, site, request, sock).run()
    except Exception:
        log.exception("web-chat socket on %s failed", site.site_key)
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"server error")
    finally:
        state.hub.remove(sock)
        await sock.stop_writer()
        gauge.dec()
    return ws
