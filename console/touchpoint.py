"""A conversation's touchpoint, read from what the channels store in `Conversation.source`.

The one reading used by routing's `source` conditions, the rule preview, the what-if simulator, the
customer card, the reports and the touchpoint map. What the channels store:

| channel | `source` |
|---|---|
| webchat | `{"url": PAGE, "referrer": URL, "utm": {"utm_source": …, "utm_medium": …, "utm_campaign": …}}` |
| telegram | `{"channel": "telegram", "start": PAYLOAD}` (the `/start` payload; no `start` without one) |
| email | `{"mailbox": ADDRESS}` |
| sms | `{"channel": "sms", "number": GATEWAY_NUMBER}` |

`touchpoint_fields` flattens that into one level of text fields named as stored: the widget's UTM
tags by their own names (`utm_source`, not `utm.utm_source`), plus `inbox`, the site, mailbox or bot
the conversation came in through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

MAX_KEY = 100


def touchpoint_fields(inbox: str, source: Mapping[str, Any] | None) -> dict[str, str]:
    """The touchpoint as flat text fields; nested UTM tags are lifted to the top level."""
    fields = {"inbox": inbox} if inbox else {}
    for key, value in (source or {}).items():
        if key == "utm" and isinstance(value, Mapping):
            fields.update({k: v for k, v in value.items() if isinstance(v, str) and k.startswith("utm_") and v})
        elif isinstance(value, str | int) and not isinstance(value, bool):
            fields[key] = str(value)
    return fields


def touchpoint_key(channel: str, inbox: str, source: Mapping[str, Any] | None) -> str:
    """Where a conversation started, as a short key for the reports and the map: the UTM source and
    campaign (`utm:news/spring`), else the page (host + path), else the start payload, else the
    channel and inbox."""
    fields = touchpoint_fields(inbox, source)
    if fields.get("utm_source"):
        campaign = fields.get("utm_campaign")
        return (f"utm:{fields['utm_source']}/{campaign}" if campaign else f"utm:{fields['utm_source']}")[:MAX_KEY]
    url = fields.get("url")
    if url:
        parts = urlsplit(url)
        if parts.netloc:
            return f"{parts.netloc}{parts.path or '/'}"[:MAX_KEY]
    if fields.get("start"):
        return f"start:{fields['start']}"[:MAX_KEY]
    return f"{channel}:{inbox}"[:MAX_KEY]
