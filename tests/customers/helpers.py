"""Shared by the customer tests: messages from a customer on any channel."""

from __future__ import annotations

import uuid
from typing import Any

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.inbox import IngestResult
from lines.console.keys import inbox_key
from tests.api.helpers import Client


async def customer_says(
    client: Client,
    text: str,
    *,
    channel: str = "loopback",
    sender: str | None = None,
    name: str = "Vera",
    phone: str | None = None,
    email: str | None = None,
    extra: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
) -> IngestResult:
    """A new inbound message through the inbox, as an adapter would hand it in."""
    message = InboundMessage(
        channel=channel,
        inbox="test",
        external_id=uuid.uuid4().hex,
        sender=ContactInfo(external_id=sender or uuid.uuid4().hex, name=name, phone=phone, email=email),
        text=text,
        extra=extra or {},
        source=source or {},
    )
    return await client.app[inbox_key].ingest(message)
