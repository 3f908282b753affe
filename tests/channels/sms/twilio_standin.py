"""A stand-in for a Twilio-compatible SMS API, on loopback: it checks requests the way the real API
does (basic auth with the account SID and token, form fields, E.164 `To`, a 1600-character body)
and sends signed webhooks (inbound messages, status callbacks) to Lines."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from lines.channels.sms.providers.twilio import signature

SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token"


@dataclass
class Sent:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str


@dataclass
class TwilioStandIn:
    sid: str = SID
    token: str = TOKEN
    sent: list[Sent] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # answer these statuses first, in order
    hang_for: float = 0.0  # sleep before answering (a gateway that times out)...
    hang_times: int = 0  # ...this many times
    requests: int = 0
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        return app

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang_times > 0:
            self.hang_times -= 1
            await asyncio.sleep(self.hang_for)
        if self.fail_with:
            status = self.fail_with.pop(0)
            return web.json_response(
                {"code": 20500, "message": "Internal Server Error", "status": status}, status=status
            )
        auth = request.headers.get("Authorization", "")
        try:
            creds = aiohttp.BasicAuth.decode(auth)
        except ValueError:
            creds = None
        if (
            creds is None
            or (creds.login, creds.password) != (self.sid, self.token)
            or request.match_info["sid"] != self.sid
        ):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = await request.post()
        to, sender, body = str(form.get("To", "")), str(form.get("From", "")), str(form.get("Body", ""))
        if not to.startswith("+") or not to[1:].isdigit():
            return web.json_response(
                {"code": 21211, "message": f"The 'To' number {to} is not a valid phone number.", "status": 400},
                status=400,
            )
        if not sender:
            return web.json_response(
                {"code": 21603, "message": "A 'From' phone number is required.", "status": 400}, status=400
            )
        if not body or len(body) > 1600:
            return web.json_response(
                {"code": 21617, "message": "The body is empty or too long.", "status": 400}, status=400
            )
        sent = Sent("SM" + uuid.uuid4().hex, to, sender, body, str(form.get("StatusCallback", "")))
        self.sent.append(sent)
        return web.json_response(
            {"sid": sent.sid, "status": "queued", "to": to, "from": sender, "body": body, "account_sid": self.sid},
            status=201,
        )

    async def post_signed(
        self, url: str, params: dict[str, str], *, token: str | None = None, sign: bool = True
    ) -> tuple[int, str]:
        """POST a webhook to Lines as the gateway does, signed with `token` (ours unless given)."""
        headers = {}
        if sign:
            headers["X-Twilio-Signature"] = signature(token or self.token, url, params.items())
        async with aiohttp.ClientSession() as http, http.post(url, data=params, headers=headers) as response:
            return response.status, await response.text()

    async def inbound(
        self, lines_url: str, sender: str, body: str, sid: str | None = None, **extra: str
    ) -> tuple[int, str]:
        params = {
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "SmsMessageSid": sid or "",
            "AccountSid": self.sid,
            "From": sender,
            "To": "+15005550006",
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        params["SmsMessageSid"] = params["MessageSid"]
        return await self.post_signed(lines_url, params)

    async def report(self, sent: Sent, status: str, error_code: str = "") -> tuple[int, str]:
        params: dict[str, Any] = {"MessageSid": sent.sid, "MessageStatus": status, "AccountSid": self.sid}
        if error_code:
            params["ErrorCode"] = error_code
        return await self.post_signed(sent.status_callback, params)
