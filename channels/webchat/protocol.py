"""The widget's JSON frames: parsed and type-checked at the edge into dataclasses (pure functions).

Client frames (docs/webchat.md, "WebSocket protocol"):
`hello` {visitor, last_seen, identity?, page}, `message` {client_id, text}, `typing`,
`button` {message_id, button} (a press on a button of a bot message).
Anything malformed raises `FrameError` with the code the server answers in an `error` frame; the
socket stays open. Type checks matter here: a dict where a string belongs must never reach a
query (docs/reliability.md#visitor-history, Rocket.Chat's `rid: {"$regex": ...}`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import urlsplit

# Error codes of `{"type": "error", "code", "message"}`.
BAD_FRAME = "bad_frame"
UNKNOWN_TYPE = "unknown_type"
HELLO_REQUIRED = "hello_required"
IDENTITY_REJECTED = "identity_rejected"
IDENTITY_REQUIRED = "identity_required"
RATE_LIMITED = "rate_limited"
TOO_MANY_VISITORS = "too_many_visitors"
MESSAGE_TOO_LONG = "message_too_long"
EMPTY_MESSAGE = "empty_message"
UNAVAILABLE = "unavailable"

MAX_URL = 4096
MAX_UTM_VALUE = 500
MAX_UTM_KEYS = 10
UTM_KEY = re.compile(r"^utm_[a-z0-9_]{1,30}$")
MAX_IDENTITY_ID = 200
MAX_NAME = 200
MAX_EMAIL = 254
MAX_HASH = 128
MAX_MESSAGE_ID = 2**63 - 1


class FrameError(Exception):
    """A frame the server refuses; `client_id` ties the refusal to one queued message."""

    def __init__(self, code: str, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id


@dataclass(frozen=True, slots=True)
class Page:
    """The touchpoint: where the visitor was when they opened the chat."""

    url: str = ""
    referrer: str = ""
    utm: dict[str, str] = field(default_factory=dict)

    def as_source(self) -> dict[str, Any]:
        return {"url": self.url, "referrer": self.referrer, "utm": dict(self.utm)}


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """What the page says about its signed-in customer; believed only if `hash` verifies."""

    id: str
    hash: str
    name: str = ""
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Hello:
    visitor: str | None
    last_seen: int | None
    identity: IdentityClaim | None
    page: Page


@dataclass(frozen=True, slots=True)
class ChatMessage:
    client_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Typing:
    pass


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """`{"type": "button", "message_id": ID, "button": ID}`: the visitor pressed a button of a message."""

    message_id: int
    button: str


Frame: TypeAlias = Hello | ChatMessage | Typing | ButtonPress


def _bad(message: str) -> FrameError:
    return FrameError(BAD_FRAME, message)


def _optional_str(raw: dict[str, Any], key: str, limit: int, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{where}{key} must be a string")
    if len(value) > limit:
        raise _bad(f"{where}{key} is longer than {limit} characters")
    return value


def _web_url(value: str | None) -> str:
    """Only http(s) URLs are kept: a `javascript:` touchpoint must never become a link in the console."""
    if not value:
        return ""
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return ""
    return value if scheme in ("http", "https") else ""


def parse_page(raw: object) -> Page:
    if raw is None:
        return Page()
    if not isinstance(raw, dict):
        raise _bad("page must be an object")
    utm_raw = raw.get("utm")
    utm: dict[str, str] = {}
    if utm_raw is not None:
        if not isinstance(utm_raw, dict):
            raise _bad("page.utm must be an object")
        if len(utm_raw) > MAX_UTM_KEYS:
            raise _bad(f"page.utm has more than {MAX_UTM_KEYS} keys")
        for key, value in utm_raw.items():
            if not isinstance(value, str):
                raise _bad(f"page.utm.{str(key)[:40]} must be a string")
            if len(value) > MAX_UTM_VALUE:
                raise _bad(f"page.utm.{str(key)[:40]} is longer than {MAX_UTM_VALUE} characters")
            if UTM_KEY.match(key) and value:
                utm[key] = value
    return Page(
        url=_web_url(_optional_str(raw, "url", MAX_URL, "page.")),
        referrer=_web_url(_optional_str(raw, "referrer", MAX_URL, "page.")),
        utm=utm,
    )


def parse_identity(raw: object) -> IdentityClaim | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("identity must be an object")
    user_id = raw.get("id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id.strip():
        raise _bad("identity.id must be a non-empty string")
    if len(user_id) > MAX_IDENTITY_ID:
        raise _bad(f"identity.id is longer than {MAX_IDENTITY_ID} characters")
    return IdentityClaim(
        id=user_id,
        hash=_optional_str(raw, "hash", MAX_HASH, "identity.") or "",
        name=(_optional_str(raw, "name", MAX_NAME, "identity.") or "").strip(),
        email=(_optional_str(raw, "email", MAX_EMAIL, "identity.") or "").strip() or None,
    )


def _hello(raw: dict[str, Any]) -> Hello:
    visitor = raw.get("visitor")
    if visitor is not None and not isinstance(visitor, str):
        raise _bad("visitor must be a token string or null")
    last_seen = raw.get("last_seen")
    if last_seen is not None and (
        not isinstance(last_seen, int) or isinstance(last_seen, bool) or not 0 <= last_seen <= MAX_MESSAGE_ID
    ):
        raise _bad("last_seen must be a message id or null")
    return Hello(visitor, last_seen, parse_identity(raw.get("identity")), parse_page(raw.get("page")))


def parse_client_id(value: object) -> str:
    """A UUID in its canonical lower-case form; anything else is refused."""
    if not isinstance(value, str) or len(value) != 36:
        raise _bad("client_id must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _bad("client_id must be a UUID string") from None


def _message(raw: dict[str, Any]) -> ChatMessage:
    client_id = parse_client_id(raw.get("client_id"))
    text = raw.get("text")
    if not isinstance(text, str):
        raise FrameError(BAD_FRAME, "text must be a string", client_id)
    return ChatMessage(client_id, text)


def _typing(raw: dict[str, Any]) -> Typing:
    return Typing()


MAX_BUTTON_ID = 64
NO_SUCH_BUTTON = "no_such_button"


def _button(raw: dict[str, Any]) -> ButtonPress:
    message_id = raw.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not 0 < message_id <= MAX_MESSAGE_ID:
        raise _bad("message_id must be a message id")
    button = raw.get("button")
    if not isinstance(button, str) or not button or len(button) > MAX_BUTTON_ID:
        raise _bad(f"button must be a button id of 1..{MAX_BUTTON_ID} characters")
    return ButtonPress(message_id, button)


PARSERS: dict[str, Callable[[dict[str, Any]], Frame]] = {
    "hello": _hello,
    "message": _message,
    "typing": _typing,
    "button": _button,
}


def parse_frame(data: str) -> Frame:
    """One text frame from the widget into its dataclass.

    Raises:
        FrameError: `bad_frame` (not JSON, not an object, wrong types) or `unknown_type`.
    """
    try:
        raw = json.loads(data)
    except ValueError:
        raise _bad("frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise _bad("frame must be a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise _bad("frame needs a string `type`")
    parser = PARSERS.get(kind)
    if parser is None:
        raise FrameError(UNKNOWN_TYPE, f"unknown frame type {kind[:40]!r}")
    return parser(raw)


def check_text(message: ChatMessage, max_chars: int) -> str:
    """The text to store (surrounding whitespace trimmed), or FrameError for empty or too long text."""
    text = message.text.strip()
    if not text:
        raise FrameError(EMPTY_MESSAGE, "message text is empty", message.client_id)
    if len(text) > max_chars:
        raise FrameError(MESSAGE_TOO_LONG, f"message is longer than {max_chars} characters", message.client_id)
    return text


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    frame.update({k: v for k, v in extra.items() if v is not None})
    return frame
