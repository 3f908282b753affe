"""A loopback channel for tests: records what it is asked to send, fails on demand."""

from __future__ import annotations

from typing import ClassVar

from lines.channels.base import (
    BaseChannel,
    ChannelFeature,
    DeliveryReceipt,
    OutboundMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)


class LoopbackChannel(BaseChannel):
    kind: ClassVar[str] = "loopback"
    features: ClassVar[ChannelFeature] = ChannelFeature.ATTACHMENTS
    max_text_length: ClassVar[int | None] = 1000

    def __init__(self, name: str = "test") -> None:
        super().__init__(name)
        self.sent: list[OutboundMessage] = []
        self.fail_temporarily = 0
        self.fail_permanently = False

    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        if self.fail_permanently:
            raise PermanentDeliveryError("recipient does not exist")
        if self.fail_temporarily > 0:
            self.fail_temporarily -= 1
            raise TemporaryDeliveryError("provider busy")
        self.sent.append(message)
        return DeliveryReceipt(external_id=f"loop-{message.message_id}", status="delivered")
