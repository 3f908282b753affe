"""A local stand-in of the Telegram Bot API (aiohttp), behaving as https://core.telegram.org/bots/api says.

python-telegram-bot is pointed at it through `api_base_url`. It keeps what bots sent, serves files,
hands out updates by offset (an update below the offset is confirmed and forgotten, as Telegram
does), and fails on demand: 429 with `retry_after`, 403 for a user who blocked the bot, 400 for
markup it cannot parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Lines", "username": "lines_test_bot"}
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "span"}
ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class BadMarkup(Exception):
    pass


class _Checker(HTMLParser):
    """Telegram's HTML: only a few tags, and every `&` starts an entity."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.plain: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise BadMarkup(f'Unsupported start tag "{tag}"')
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise BadMarkup(f'Unmatched end tag "{tag}"')

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            raise BadMarkup("Unexpected < or >")
        self.plain.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            raise BadMarkup(f"Unsupported entity &{name};")
        self.plain.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.plain.append(html.unescape(f"&#{name};"))


def parse_html(text: str) -> str:
    """The plain text Telegram would show, or BadMarkup for what it cannot parse."""
    for match in re.finditer("&", text):
        if not ENTITY.match(text, match.start()):
            raise BadMarkup("Character '&' is reserved and must be escaped")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if checker.open:
        raise BadMarkup(f'Can\'t find end tag corresponding to start tag "{checker.open[-1]}"')
    return "".join(checker.plain)


@dataclass
class Sent:
    method: str
    chat_id: int
    message_id: int
    at: float
    text: str = ""
    plain: str = ""
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    filename: str = ""
    content_type: str = ""
    data: bytes = b""


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class BotApi:
    token: str = TOKEN
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    webhook: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    # Method name -> failures to return on its next calls, in order.
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    # getUpdates calls refused because another was still waiting (Telegram's 409 to a second poller).
    conflicts: int = 0
    _polling: int = 0
    _next_message_id: int = 1000
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)

    # ---- test helpers ----------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self._new_update.set()

    def add_file(self, file_id: str, data: bytes, path: str = "") -> None:
        self.files[file_id] = (path or f"documents/{file_id}.bin", data)

    def fail(self, method: str, *failures: Failure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    # ---- the API ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._call)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return app

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            return dict(body)
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = value
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                try:
                    params[key] = json.loads(value)
                except json.JSONDecodeError:
                    if key == "reply_markup":
                        params[key] = value  # left as given: the method says it cannot parse it
        return params

    async def _call(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            return _error(failure.status, failure.description, failure.retry_after)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        try:
            result = await handler(params)
        except BadMarkup as err:
            return _error(400, f"Bad Request: can't parse entities: {err}")
        except _Refused as err:
            return _error(err.status, err.description)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    # Method handlers are named after the Bot API methods.
    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.updates.clear()
        self.webhook = {}
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise _Refused(409, "Conflict: can't use getUpdates method while webhook is active")
        if self._polling:
            self.conflicts += 1
            raise _Refused(409, "Conflict: terminated by other getUpdates request")
        self._polling += 1
        try:
            return await self._next_updates(params)
        finally:
            self._polling -= 1

    async def _next_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        if offset:
            # Telegram forgets every update below the offset: they count as confirmed.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new_update.clear()
            timeout = min(float(params.get("timeout") or 0), 1.0)
            if timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return list(self.updates[:limit])

    def _chat(self, params: dict[str, Any]) -> int:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise _Refused(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
            raise _Refused(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if not button.get("text") or (data is not None and not 1 <= len(data.encode()) <= 64):
                    raise _Refused(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _message(self, chat_id: int) -> dict[str, Any]:
        self._next_message_id += 1
        return {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
        }

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        markup = self._markup(params)
        text = str(params.get("text", ""))
        mode = params.get("parse_mode")
        plain = parse_html(text) if mode == "HTML" else text
        if not plain.strip():
            raise _Refused(400, "Bad Request: message text is empty")
        if len(plain) > 4096:
            raise _Refused(400, "Bad Request: message is too long")
        message = self._message(chat_id)
        at = time.monotonic()
        self.sent.append(Sent("sendMessage", chat_id, message["message_id"], at, text, plain, mode, markup))
        return {**message, "text": plain}

    async def _send_file(self, method: str, field_name: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        markup = self._markup(params)
        upload = params.get(field_name)
        if not isinstance(upload, web.FileField):
            # We never let Telegram fetch our files by URL (or reuse ids): only multipart uploads.
            raise _Refused(400, f"Bad Request: expected a multipart upload for {field_name}, got {upload!r}")
        data = upload.file.read()
        message = self._message(chat_id)
        self.sent.append(
            Sent(
                method, chat_id, message["message_id"], time.monotonic(), reply_markup=markup,
                filename=upload.filename, content_type=upload.content_type, data=data,
            )
        )  # fmt: skip
        return message

    async def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        message = await self._send_file("sendPhoto", "photo", params)
        return {**message, "photo": [{"file_id": "sent-photo", "file_unique_id": "sp", "width": 1, "height": 1}]}

    async def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        message = await self._send_file("sendDocument", "document", params)
        return {**message, "document": {"file_id": "sent-doc", "file_unique_id": "sd"}}

    async def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise _Refused(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        if len(data) > 20 * 1024 * 1024:
            raise _Refused(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data), "file_path": path}

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answered.append(str(params["callback_query_id"]))
        return True

    async def _getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if chat_id not in self.chats:
            raise _Refused(400, "Bad Request: chat not found")
        return {"accent_color_id": 0, "max_reaction_count": 11, **self.chats[chat_id]}


class _Refused(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
