"""Keyset pages over the inbox orders: a cursor names the last row shown, the next page starts after it.

The same orders and cursors serve the API's `GET /api/v1/conversations` and the inbox page, so a row
is reached exactly once however the pages are cut. A cursor is `<microseconds since 1970 or n>.<id>`:
the sort key of the last row (`n` when it has no SLA deadline) and its id as the tie-breaker.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from lines.console.models import Conversation

SORTS = ("recent", "sla")
CURSOR = re.compile(r"^(\d{1,20}|n)\.(\d{1,19})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadCursor(ValueError):
    """The cursor did not come from `next_cursor` (or not for this sort)."""


def order(sort: str) -> tuple[Any, ...]:
    """`recent`: newest activity first; `sla`: nearest SLA deadline first, conversations without one last."""
    if sort == "sla":
        return (Conversation.sla_due_at.is_(None), Conversation.sla_due_at.asc(), Conversation.id.asc())
    return (Conversation.last_message_at.desc(), Conversation.id.desc())


def _micros(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def cursor(conversation: Conversation, sort: str) -> str:
    at = conversation.sla_due_at if sort == "sla" else conversation.last_message_at
    return f"{'n' if at is None else _micros(at)}.{conversation.id}"


def after(raw: str, sort: str) -> ColumnElement[bool]:
    """Rows after the cursor's row in `sort`'s order; `BadCursor` if it can't be one of ours."""
    match = CURSOR.match(raw)
    if match is None:
        raise BadCursor(raw)
    key, conversation_id = match.group(1), int(match.group(2))
    at: datetime | None = None
    if key != "n":
        try:
            at = EPOCH + timedelta(microseconds=int(key))
        except OverflowError as err:
            raise BadCursor(raw) from err
    if sort == "sla":
        if at is None:
            return and_(Conversation.sla_due_at.is_(None), Conversation.id > conversation_id)
        return or_(
            Conversation.sla_due_at.is_(None),
            Conversation.sla_due_at > at,
            and_(Conversation.sla_due_at == at, Conversation.id > conversation_id),
        )
    if at is None:
        raise BadCursor(raw)
    return or_(
        Conversation.last_message_at < at,
        and_(Conversation.last_message_at == at, Conversation.id < conversation_id),
    )
