"""Kannel (https://www.kannel.org): `sendsms` out, the sms-service `get-url` in, `dlr-url` reports.

Kannel's `sendsms` answers "0: Accepted for delivery" without an id, so we put our own reference in
the `dlr-url`; Kannel substitutes `%d` (the report type) and `%A` (the SMSC's reply) and calls back.
The inbound and report URLs carry `secret=<inbound_secret>` (Kannel cannot sign requests); see
docs/sms.md for the sms-service and sendsms-user configuration.
"""

from __future__ import annotations

import hmac
from typing import ClassVar
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from lines.channels.base import PermanentDeliveryError, TemporaryDeliveryError
from lines.channels.sms.providers.base import InboundSms, SentSms, SmsProvider, StatusReport, WebhookRejected
from lines.channels.sms.segments import SegmentInfo

# Kannel report types (the dlr-mask bits): 1 delivered, 2 undeliverable, 4 queued on the SMSC,
# 8 accepted by the SMSC, 16 rejected by the SMSC.
DLR_MASK = 1 | 2 | 4 | 8 | 16
DLR_STATUS = {1: "delivered", 2: "failed", 4: "sent", 8: "sent", 16: "failed"}


async def _fields(request: web.Request) -> dict[str, bytes]:
    """Query (get-url) and form (POST) fields as raw bytes: UCS-2 text is not UTF-8."""
    raw = request.query_string
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        body = (await request.read()).decode("latin-1")
        raw = f"{raw}&{body}" if raw else body
    return {k: v.encode("latin-1") for k, v in parse_qsl(raw, keep_blank_values=True, encoding="latin-1")}


def _decode(data: bytes, charset: str, coding: str) -> str:
    charset = charset.strip().upper()
    if coding == "2" or charset in ("UTF-16BE", "UCS-2", "UCS-2BE", "UTF-16"):
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")


class KannelProvider(SmsProvider):
    kind: ClassVar[str] = "kannel"

    def _check_secret(self, fields: dict[str, bytes], request: web.Request) -> None:
        given = fields.get("secret", b"") or request.headers.get("X-Lines-Secret", "").encode()
        expected = self.gateway.inbound_secret.get_secret_value().encode()
        if not expected or not hmac.compare_digest(given, expected):
            raise WebhookRejected(403, "wrong or missing secret")

    async def send(self, http: aiohttp.ClientSession, to: str, text: str, info: SegmentInfo, ref: str) -> SentSms:
        secret = self.gateway.inbound_secret.get_secret_value()
        params = {
            "username": self.gateway.username,
            "password": self.gateway.password.get_secret_value(),
            "from": self.gateway.number,
            "to": to,
            "text": text,
            "charset": "UTF-8",
            "coding": "2" if info.encoding == "ucs2" else "0",
            "dlr-mask": str(DLR_MASK),
            "dlr-url": f"{self.status_url}?secret={secret}&ref={ref}&type=%d&reply=%A",
        }
        try:
            async with http.get(
                self.gateway.sendsms_url,
                params=params,
                timeout=aiohttp.ClientTimeout(total=self.gateway.request_timeout_seconds),
            ) as response:
                body = (await response.text(errors="replace")).strip()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise TemporaryDeliveryError(f"Kannel is unreachable: {err or type(err).__name__}") from err
        if response.status >= 500:
            raise TemporaryDeliveryError(f"Kannel answered {response.status}: {body[:200]}")
        if response.status >= 400:
            raise PermanentDeliveryError(f"Kannel refused the message ({response.status}): {body[:200]}")
        # "0: Accepted for delivery" or "3: Queued for later delivery": the gateway has it.
        return SentSms(external_id=ref, status="sent")

    async def parse_inbound(self, request: web.Request) -> InboundSms:
        fields = await _fields(request)
        self._check_secret(fields, request)
        provider_id = fields.get("id", b"").decode("latin-1").strip()
        sender = fields.get("from", b"").decode("latin-1").strip()
        if not provider_id or not sender:
            raise WebhookRejected(400, "id and from are required")
        text = _decode(
            fields.get("text", b""),
            fields.get("charset", b"").decode("latin-1"),
            fields.get("coding", b"").decode("latin-1").strip(),
        )
        return InboundSms(
            provider_id=provider_id,
            sender=sender,
            recipient=fields.get("to", b"").decode("latin-1").strip(),
            text=text,
        )

    async def parse_status(self, request: web.Request) -> StatusReport:
        fields = await _fields(request)
        self._check_secret(fields, request)
        ref = fields.get("ref", b"").decode("latin-1").strip()
        try:
            kind = int(fields.get("type", b"").decode("latin-1"))
        except ValueError:
            raise WebhookRejected(400, "type must be a Kannel report type") from None
        if not ref or kind not in DLR_STATUS:
            raise WebhookRejected(400, "ref and a known report type are required")
        status = DLR_STATUS[kind]
        reply = fields.get("reply", b"").decode("utf-8", errors="replace").strip()
        error = (reply or f"Kannel report type {kind}") if status == "failed" else None
        return StatusReport(external_id=ref, status=status, error=error)
