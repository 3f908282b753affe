"""The customers list behind `/contacts` and `GET /api/v1/customers`: search and filters over the
contacts a person may see, newest first, paged by id (keyset: a page never skips or repeats a row
when contacts arrive meanwhile); and the dismissals that keep a reviewed pair out of the duplicates
queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.access import Scope
from lines.console.customers.contacts import ContactError, _like, contact_filter, ordered_pair, visible_contact
from lines.console.customers.models import DuplicateDismissal
from lines.console.models import Contact, ContactIdentity, Conversation, utcnow
from lines.console.serialize import iso

PAGE = 50
# "Last contact" filter: a conversation with a message within the last N days, or none that recent.
CONTACTED = {"7d": 7, "30d": 30, "90d": 90}
CONTACTED_OLDER = "older"


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    channel: str = ""
    tag: str = ""
    contacted: str = ""  # one of CONTACTED, CONTACTED_OLDER, or "" for any
    after: int | None = None  # the last id of the previous page


def _conditions(scope: Scope, filters: Filters, now: datetime) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [contact_filter(scope)]
    q = filters.q.strip()
    if q:
        terms: list[ColumnElement[bool]] = [
            func.lower(Contact.name).like(_like(q.lower()), escape="\\"),
            func.lower(Contact.email).like(_like(q.lower()), escape="\\"),
            # A tag typed into the search box finds its customers too.
            cast(Contact.tags, String).like(_like(f'"{q.lower()}"'), escape="\\"),
        ]
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 5:
            terms.append(Contact.phone.like(_like(digits), escape="\\"))
        where.append(or_(*terms))
    if filters.channel:
        where.append(
            exists()
            .where(ContactIdentity.contact_id == Contact.id, ContactIdentity.channel == filters.channel)
            .correlate(Contact)
        )
    if filters.tag:
        where.append(cast(Contact.tags, String).like(_like(f'"{filters.tag.lower()}"'), escape="\\"))
    if filters.contacted:
        days = CONTACTED.get(filters.contacted, 90)
        recent = (
            exists()
            .where(
                Conversation.contact_id == Contact.id,
                Conversation.last_message_at >= now - timedelta(days=days),
                scope.conversation_filter(),
            )
            .correlate(Contact)
        )
        where.append(~recent if filters.contacted == CONTACTED_OLDER else recent)
    if filters.after is not None:
        where.append(Contact.id < filters.after)
    return where


async def browse(
    session: AsyncSession, scope: Scope, filters: Filters, limit: int = PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of customers, newest first, and the cursor of the next page (None on the last)."""
    now = utcnow()
    rows = (
        await session.scalars(
            select(Contact).where(*_conditions(scope, filters, now)).order_by(Contact.id.desc()).limit(limit + 1)
        )
    ).all()
    page = list(rows[:limit])
    last = await _last_contacts(session, scope, [c.id for c in page])
    channels = await _channels(session, [c.id for c in page])
    items = [
        {
            "id": c.id,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "tags": list(c.tags or []),
            "channels": channels.get(c.id, []),
            "last_contact_at": iso(last.get(c.id)),
        }
        for c in page
    ]
    return items, (page[-1].id if len(rows) > limit and page else None)


async def _last_contacts(session: AsyncSession, scope: Scope, ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Conversation.contact_id, func.max(Conversation.last_message_at))
        .where(Conversation.contact_id.in_(ids), scope.conversation_filter())
        .group_by(Conversation.contact_id)
    )
    return {contact_id: at for contact_id, at in rows.all() if at is not None}


async def _channels(session: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(ContactIdentity.contact_id, ContactIdentity.channel)
        .where(ContactIdentity.contact_id.in_(ids))
        .distinct()
        .order_by(ContactIdentity.channel)
    )
    found: dict[int, list[str]] = {}
    for contact_id, channel in rows.all():
        found.setdefault(contact_id, []).append(channel)
    return found


# --- dismissed duplicates ---------------------------------------------------------------------------


async def dismiss(session: AsyncSession, scope: Scope, a: int, b: int) -> tuple[int, int]:
    """Record that `a` and `b` are not one customer; both must be visible (404 otherwise). Idempotent."""
    if a == b:
        raise ContactError(422, "validation_error", "contact_ids: two different contacts")
    low, high = ordered_pair(a, b)
    for contact_id in (low, high):
        await visible_contact(session, scope, contact_id)
    if await session.get(DuplicateDismissal, (low, high)) is None:
        session.add(DuplicateDismissal(low_id=low, high_id=high, dismissed_by=scope.operator_id))
    return low, high
