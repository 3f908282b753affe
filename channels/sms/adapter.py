"""`SmsChannel`: one per `[[channels.sms]]` block; its provider talks to the gateway.

Inbound: the gateway's webhook -> the provider authenticates and parses it -> the sender becomes an
E.164 identity (`ContactInfo.phone`, so the inbox links it to the contact with that phone) -> ingest,
de-duplicated by the provider's message id -> opt-out/opt-in keywords change the identity's state.
Outbound: the outbox calls `deliver()`; `_send` checks the segment limit and hands the text to the
provider. Delivery reports come back on the status webhook and go to `record_receipt`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import ClassVar

import aiohttp
from aiohttp import web

from lines.channels.base import (
    BaseChannel,
    ChannelHealth,
    ContactInfo,
    DeliveryReceipt,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
)
from lines.channels.context import ChannelContext
from lines.channels.sms import segments
from lines.channels.sms.config import SmsGateway
from lines.channels.sms.providers.base import SmsProvider, StatusReport, WebhookRejected
from lines.console.phones import display, to_e164

log = logging.getLogger(__name__)

# A report can overtake the outbox's own bookkeeping of the send: wait for it this long.
RECEIPT_WAIT_SECONDS = 5.0


def keyword(text: str) -> str:
    """The text as a keyword: trimmed, punctuation dropped, case folded (`Stop!` -> `STOP`)."""
    return re.sub(r"[\W_]+", "", text, flags=re.UNICODE).upper()


class SmsChannel(BaseChannel):
    kind: ClassVar[str] = "sms"

    def __init__(self, gateway: SmsGateway, provider: SmsProvider, context: ChannelContext) -> None:
        super().__init__(gateway.name)
        self.gateway = gateway
        self.provider = provider
        self._context = context
        self._http: aiohttp.ClientSession | None = None
        self._opt_out = {keyword(k) for k in gateway.opt_out_keywords}
        self._opt_in = {keyword(k) for k in gateway.opt_in_keywords}

    def health(self, base_url: str) -> ChannelHealth:
        """The inbound URL for the gateway; Kannel's carries the inbound secret, shown as a placeholder."""
        url = f"{self.provider.public_url}/channels/sms/{self.name}/inbound"
        if self.gateway.provider == "kannel":
            url += "?secret=<inbound_secret>"
        return ChannelHealth(webhook_url=url)

    async def start(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def resolve_recipient(self, address: str) -> ContactInfo:
        """An operator's number for a new conversation; ValueError when it is not a valid one."""
        number = to_e164(address, self.gateway.default_region)
        return ContactInfo(external_id=number, phone=number, display=display(number))

    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        to = message.recipient.external_id
        if not to:
            raise PermanentDeliveryError("the conversation has no phone number to answer")
        info = segments.count(message.text)
        if info.segments == 0:
            raise PermanentDeliveryError("an SMS cannot be empty")
        if info.segments > self.gateway.max_segments:
            raise PermanentDeliveryError(
                f"the text takes {info.segments} SMS parts ({info.encoding.upper()}); "
                f"{self.gateway.name} allows at most {self.gateway.max_segments}"
            )
        await self.start()
        assert self._http is not None
        ref = f"{message.message_id}-{uuid.uuid4().hex[:12]}"
        sent = await self.provider.send(self._http, to, message.text, info, ref)
        return DeliveryReceipt(external_id=sent.external_id, status=sent.status)

    # -- webhooks

    async def inbound(self, request: web.Request) -> web.Response:
        try:
            sms = await self.provider.parse_inbound(request)
        except WebhookRejected as err:
            log.warning("sms/%s: inbound webhook rejected: %s", self.name, err)
            return web.json_response({"error": {"code": "rejected", "message": str(err)}}, status=err.status)
        try:
            number = to_e164(sms.sender, self.gateway.default_region)
            sender = ContactInfo(external_id=number, phone=number, display=display(number))
        except ValueError:
            # An alphanumeric sender ("BANK") or a short code: an identity, but not a phone.
            sender = ContactInfo(external_id=sms.sender, display=sms.sender)
        info = segments.count(sms.text)
        result = await self._context.ingest(
            InboundMessage(
                channel=self.kind,
                inbox=self.name,
                external_id=sms.provider_id,
                sender=sender,
                text=sms.text,
                source={"channel": "sms", "number": self.gateway.number},
                extra={"sms": {"encoding": info.encoding, "segments": info.segments}},
            )
        )
        if result.created:
            await self._keywords(sender, sms.text, result.conversation_id)
        return self.provider.acknowledge()

    async def _keywords(self, sender: ContactInfo, text: str, conversation_id: int) -> None:
        word = keyword(text)
        if word in self._opt_out:
            reason = f"replied {text.strip()!r} by SMS"
            await self._context.set_identity_state(self.kind, self.name, sender.external_id, "opted_out", reason)
            await self._context.system_note(
                conversation_id,
                f"The customer opted out of SMS ({text.strip()!r}): nothing more will be sent to this number.",
                {"sms_opt_out": True},
            )
        elif word in self._opt_in:
            await self._context.set_identity_state(self.kind, self.name, sender.external_id, "active", "")
            await self._context.system_note(
                conversation_id,
                f"The customer opted back in to SMS ({text.strip()!r}).",
                {"sms_opt_in": True},
            )

    async def status(self, request: web.Request) -> web.Response:
        try:
            report = await self.provider.parse_status(request)
        except WebhookRejected as err:
            log.warning("sms/%s: status webhook rejected: %s", self.name, err)
            return web.json_response({"error": {"code": "rejected", "message": str(err)}}, status=err.status)
        if report.status != "queued":
            await self._receipt(report)
        return self.provider.acknowledge()

    async def _receipt(self, report: StatusReport) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECEIPT_WAIT_SECONDS
        delay = 0.05
        while True:
            found = await self._context.record_receipt(
                self.kind, self.name, report.external_id, report.status, report.error
            )
            if found is not None or loop.time() >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        if found is None:
            log.info("sms/%s: report for unknown message %s (%s)", self.name, report.external_id, report.status)


__all__ = ["SmsChannel", "keyword"]
