"""Twilio-compatible HTTP API: REST send with basic auth, signed form webhooks, status callbacks.

Signature (https://www.twilio.com/docs/usage/security): base64 HMAC-SHA1, keyed with the auth token,
of the full URL the gateway called followed by every POST field name and value, sorted by name.
The URL is `server.public_url` + the path and query, so it matches behind a proxy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import ClassVar

import aiohttp
from aiohttp import web

from lines.channels.base import PermanentDeliveryError, TemporaryDeliveryError
from lines.channels.sms.providers.base import InboundSms, SentSms, SmsProvider, StatusReport, WebhookRejected
from lines.channels.sms.segments import SegmentInfo

DEFAULT_API = "https://api.twilio.com"
STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The `X-Twilio-Signature` of a POST to `url` with form `params`."""
    payload = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioProvider(SmsProvider):
    kind: ClassVar[str] = "twilio"

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        if request.method != "POST":
            raise WebhookRejected(405, "webhooks are POSTed")
        form = await request.post()
        params = [(k, v) for k, v in form.items() if isinstance(v, str)]
        given = request.headers.get("X-Twilio-Signature", "")
        token = self.gateway.auth_token.get_secret_value()
        url = self.public_url + request.path_qs
        if not token or not given or not hmac.compare_digest(given, signature(token, url, params)):
            raise WebhookRejected(403, "wrong or missing X-Twilio-Signature")
        return dict(params)

    async def send(self, http: aiohttp.ClientSession, to: str, text: str, info: SegmentInfo, ref: str) -> SentSms:
        base = (self.gateway.api_base_url or DEFAULT_API).rstrip("/")
        sid = self.gateway.account_sid
        url = f"{base}/2010-04-01/Accounts/{sid}/Messages.json"
        data = {"To": to, "From": self.gateway.number, "Body": text, "StatusCallback": self.status_url}
        token = self.gateway.auth_token.get_secret_value()
        auth = {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}
        try:
            async with http.post(
                url, data=data, headers=auth, timeout=aiohttp.ClientTimeout(total=self.gateway.request_timeout_seconds)
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = {}
        except (aiohttp.ClientError, TimeoutError) as err:
            raise TemporaryDeliveryError(f"the SMS API is unreachable: {err or type(err).__name__}") from err
        body = body if isinstance(body, dict) else {}
        detail = f"{body.get('code', '')} {body.get('message', '')}".strip() or f"HTTP {status}"
        if status == 429 or status >= 500:
            wait = float(retry_after) if retry_after and retry_after.isdigit() else None
            raise TemporaryDeliveryError(f"the SMS API answered {status}: {detail}", retry_after=wait)
        if status >= 400 or not body.get("sid"):
            raise PermanentDeliveryError(f"the SMS API refused the message ({status}): {detail}")
        # Twilio's own "queued" means it has the message: for Lines that is sent (reports follow).
        return SentSms(external_id=str(body["sid"]), status="sent")

    async def parse_inbound(self, request: web.Request) -> InboundSms:
        form = await self._signed_form(request)
        provider_id = form.get("MessageSid") or form.get("SmsMessageSid") or ""
        sender = form.get("From", "")
        if not provider_id or not sender:
            raise WebhookRejected(400, "MessageSid and From are required")
        # MediaUrlN are never fetched: an SMS number takes text, and fetching would be an SSRF hole.
        return InboundSms(
            provider_id=provider_id, sender=sender, recipient=form.get("To", ""), text=form.get("Body", "")
        )

    async def parse_status(self, request: web.Request) -> StatusReport:
        form = await self._signed_form(request)
        provider_id = form.get("MessageSid") or form.get("SmsSid") or ""
        raw = form.get("MessageStatus") or form.get("SmsStatus") or ""
        if not provider_id or not raw:
            raise WebhookRejected(400, "MessageSid and MessageStatus are required")
        status = STATUS.get(raw, "queued")
        error = None
        if status == "failed":
            error = f"{raw}" + (f" (error {form['ErrorCode']})" if form.get("ErrorCode") else "")
        return StatusReport(external_id=provider_id, status=status, error=error)

    def acknowledge(self) -> web.Response:
        return web.Response(text=TWIML_EMPTY, content_type="text/xml")
