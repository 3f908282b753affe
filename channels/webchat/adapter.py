"""`WebchatChannel`: one per configured site; replies go out as frames on the bus topic `webchat`.

Delivery is a publish: every process's hub pushes the frame to the visitor's open tabs. A visitor
who is offline loses nothing: the reply is in the store, and the widget's next hello with
`last_seen` brings it back.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lines.channels.base import (
    BaseChannel,
    ChannelFeature,
    ChannelHealth,
    DeliveryReceipt,
    OutboundMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from lines.channels.context import ChannelContext
from lines.channels.webchat.hub import WEBCHAT_TOPIC, Hub, outbound_payload


def reply_frame(message: OutboundMessage) -> dict[str, Any]:
    """The `message` frame a visitor receives; no operator ids or logins, only the display name."""
    frame = {
        "type": "message",
        "id": message.message_id,
        "author": "bot" if message.author_kind == "bot" else "operator",
        "name": message.author_name,
        "text": message.text,
        "at": message.created_at.isoformat(),
    }
    buttons = public_buttons(message.extra)
    if buttons:
        frame["buttons"] = buttons
    return frame


def public_buttons(extra: dict[str, Any] | None) -> list[dict[str, str]]:
    """`Message.extra["buttons"]` as the widget gets them: `[{"id", "label"}]`, nothing else."""
    raw = (extra or {}).get("buttons")
    if not isinstance(raw, list):
        return []
    return [
        {"id": str(b["id"]), "label": str(b["label"])}
        for b in raw
        if isinstance(b, dict) and isinstance(b.get("id"), str) and isinstance(b.get("label"), str)
    ]


class WebchatChannel(BaseChannel):
    kind: ClassVar[str] = "webchat"
    features: ClassVar[ChannelFeature] = ChannelFeature.TYPING | ChannelFeature.BUTTONS
    max_text_length: ClassVar[int | None] = 20_000

    def __init__(self, site_key: str, context: ChannelContext, hub: Hub) -> None:
        super().__init__(site_key)
        self._context = context
        self._hub = hub

    async def start(self) -> None:
        """Subscribe this process's hub to the bus (before the bus starts consuming)."""
        self._hub.start(self._context.bus)

    async def stop(self) -> None:
        self._hub.stop()

    def health(self, base_url: str) -> ChannelHealth:
        """The one tag a site pastes to embed the widget (docs/webchat.md), as text: pages escape it."""
        src = f"{base_url.rstrip('/')}/webchat/widget.js"
        return ChannelHealth(embed=f'<script src="{src}" data-site-key="{self.name}" async></script>')

    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        if not message.recipient.external_id:
            raise PermanentDeliveryError("the conversation has no web-chat visitor to answer")
        payload = outbound_payload(
            self.name, message.recipient.external_id, message.conversation_id, reply_frame(message)
        )
        try:
            await self._context.bus.publish(WEBCHAT_TOPIC, payload)
        except (ConnectionError, TimeoutError) as err:
            raise TemporaryDeliveryError(f"bus unavailable: {err}") from err
        return DeliveryReceipt(external_id=None, status="sent")
