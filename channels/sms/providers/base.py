"""The provider interface: how one gateway sends an SMS and what its webhooks look like.

A new provider is one module with a subclass of `SmsProvider`, registered in
`lines.channels.sms.providers.PROVIDERS`. The adapter (`channels/sms/adapter.py`) does the rest:
E.164 numbers, segment limits, opt-out keywords, de-duplication (through ingest), receipts.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

import aiohttp
from aiohttp import web

from lines.channels.sms.config import SmsGateway
from lines.channels.sms.segments import SegmentInfo


@dataclass(frozen=True, slots=True)
class InboundSms:
    """One mobile-originated SMS as the gateway reported it (numbers not yet normalised)."""

    provider_id: str
    sender: str
    recipient: str
    text: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A delivery report: our or the provider's id for the sent message, and a Lines status."""

    external_id: str
    status: str  # sent | delivered | failed
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SentSms:
    """The gateway took the message: its id (what a later report names) and how far it got."""

    external_id: str
    status: str = "sent"


class WebhookRejected(Exception):
    """The webhook is not from our gateway (403) or not a well-formed request (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SmsProvider(abc.ABC):
    """One gateway account. Raise `TemporaryDeliveryError`/`PermanentDeliveryError` from `send`."""

    kind: ClassVar[str]

    def __init__(self, gateway: SmsGateway, public_url: str) -> None:
        """`public_url`: where the gateway reaches this instance (for report callbacks)."""
        self.gateway = gateway
        self.public_url = public_url.rstrip("/")

    @property
    def status_url(self) -> str:
        return f"{self.public_url}/channels/sms/{self.gateway.name}/status"

    @abc.abstractmethod
    async def send(self, http: aiohttp.ClientSession, to: str, text: str, info: SegmentInfo, ref: str) -> SentSms:
        """Hand one message to the gateway; `ref` is a unique token for this attempt."""

    @abc.abstractmethod
    async def parse_inbound(self, request: web.Request) -> InboundSms:
        """Authenticate and read an inbound webhook; raise `WebhookRejected`."""

    @abc.abstractmethod
    async def parse_status(self, request: web.Request) -> StatusReport:
        """Authenticate and read a delivery-report webhook; raise `WebhookRejected`."""

    def acknowledge(self) -> web.Response:
        """What the gateway expects back once a webhook is handled."""
        return web.Response(text="")
