"""Reads behind the console pages: the inbox list with counts, previews and unread marks, one conversation.

Every query goes through `Scope.conversation_filter()` (the API's visibility rule), so a page never
shows what the API would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console import keyset
from lines.console.access import Scope, view_filter
from lines.console.models import (
    Contact,
    Conversation,
    ConversationRead,
    Direction,
    Message,
    Operator,
    Team,
)

VIEWS = ("mine", "unassigned", "team", "all")
STATUSES = ("open", "pending", "snoozed", "resolved")
STATUS_FILTERS = (*STATUSES, "any")
SORTS = keyset.SORTS
SLA_FILTERS = ("any", "warning", "breached")
LIST_LIMIT = 100  # the API's page size limit, so a live re-fetch sees the same first page
PREVIEW_CHARS = 160
_SPACE = re.compile(r"\s+")


def status_filter(status: str) -> ColumnElement[bool]:
    return Conversation.status == status if status in STATUSES else true()


def sla_filter(sla_state: str) -> ColumnElement[bool]:
    return Conversation.sla_state == sla_state if sla_state in SLA_FILTERS[1:] else true()


def preview(text: str) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Row:
    conversation: Conversation
    unread: bool
    last_text: str
    last_direction: str | None
    last_author_kind: str | None = None
    last_author_name: str = ""

    def preview_dict(self) -> dict[str, Any]:
        """The preview as the page's JSON carries it, for console.js to render like `_row.html`."""
        return {
            "text": self.last_text,
            "direction": self.last_direction,
            "author_kind": self.last_author_kind,
            "author_name": self.last_author_name,
        }


async def counts(session: AsyncSession, scope: Scope, status: str, sla_state: str = "any") -> dict[str, int]:
    """How many visible conversations each view holds under the status and SLA filters, in one query."""
    columns = [func.coalesce(func.sum(case((view_filter(scope, v), 1), else_=0)), 0) for v in VIEWS]
    where = (scope.conversation_filter(), status_filter(status), sla_filter(sla_state))
    row = (await session.execute(select(*columns).where(*where))).one()
    return {view: int(value) for view, value in zip(VIEWS, row, strict=True)}


async def inbox_rows(
    session: AsyncSession, scope: Scope, view: str, status: str, sort: str = "recent", sla_state: str = "any"
) -> tuple[list[Row], str | None]:
    """The inbox's first page: newest activity first, or with `sort="sla"` the nearest SLA deadline
    first (conversations without one last), the same orders as the API's `sort`; and the API cursor
    of the next page (None when this is all), which the page scrolls on with."""
    conversations = list(
        (
            await session.scalars(
                select(Conversation)
                .where(
                    scope.conversation_filter(),
                    view_filter(scope, view),
                    status_filter(status),
                    sla_filter(sla_state),
                )
                .options(
                    selectinload(Conversation.contact),
                    selectinload(Conversation.assignee),
                    selectinload(Conversation.team),
                )
                .order_by(*keyset.order(sort))
                .limit(LIST_LIMIT + 1)
            )
        ).all()
    )
    next_cursor = keyset.cursor(conversations[LIST_LIMIT - 1], sort) if len(conversations) > LIST_LIMIT else None
    conversations = conversations[:LIST_LIMIT]
    ids = [c.id for c in conversations]
    if not ids:
        return [], None
    read_rows = await session.execute(
        select(ConversationRead.conversation_id, ConversationRead.last_read_message_id).where(
            ConversationRead.operator_id == scope.operator_id, ConversationRead.conversation_id.in_(ids)
        )
    )
    reads: dict[int, int] = {conversation_id: last for conversation_id, last in read_rows}
    last = await last_messages(session, ids)
    rows = []
    for c in conversations:
        message = last.get(c.id)
        text = message_preview(message) or preview(c.subject)
        kind, name = preview_author(message)
        rows.append(Row(c, is_unread(c, reads.get(c.id)), text, message.direction if message else None, kind, name))
    return rows, next_cursor


def preview_author(message: Message | None) -> tuple[str | None, str]:
    """Who wrote the previewed message: (`author_kind`, name). The row template and console.js label it
    from these alone ("Customer:", "Bot:", or the operator's name), so both read the same."""
    if message is None:
        return None, ""
    return str(message.author_kind), message.author_name or ""


async def last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, Message]:
    """The latest customer-visible message (in or out, not notes) of each conversation."""
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction.in_((Direction.IN, Direction.OUT)))
        .group_by(Message.conversation_id)
    )
    found = await session.scalars(
        select(Message).where(Message.id.in_(latest)).options(selectinload(Message.attachments))
    )
    return {m.conversation_id: m for m in found.all()}


def message_preview(message: Message | None) -> str:
    if message is None:
        return ""
    return preview(message.text or ", ".join(a.filename for a in message.attachments))


def is_unread(conversation: Conversation, last_read: int | None) -> bool:
    last_in = conversation.last_inbound_message_id
    return last_in is not None and (last_read is None or last_read < last_in)


@dataclass(frozen=True, slots=True)
class ConversationPage:
    conversation: Conversation
    messages: list[Message]
    contact: Contact
    previous: list[Conversation]
    previews: dict[int, str]
    operators: list[Operator]
    teams: list[Team]


async def conversation_page(session: AsyncSession, scope: Scope, conversation: Conversation) -> ConversationPage:
    """The history, the customer with every identity, their other visible conversations, who to assign to."""
    messages = list(
        (
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .options(selectinload(Message.attachments))
                .order_by(Message.id)
            )
        ).all()
    )
    contact = await session.scalar(
        select(Contact)
        .where(Contact.id == conversation.contact_id)
        .options(selectinload(Contact.identities))
        .execution_options(populate_existing=True)
    )
    assert contact is not None
    previous = list(
        (
            await session.scalars(
                select(Conversation)
                .where(
                    Conversation.contact_id == conversation.contact_id,
                    Conversation.id != conversation.id,
                    scope.conversation_filter(),
                )
                .options(selectinload(Conversation.team))
                .order_by(Conversation.last_message_at.desc())
                .limit(50)
            )
        ).all()
    )
    operators = list(
        (
            await session.scalars(
                select(Operator)
                .where(Operator.active.is_(True))
                .options(selectinload(Operator.teams))
                .order_by(Operator.name)
            )
        ).all()
    )
    teams = list((await session.scalars(select(Team).order_by(Team.title, Team.name))).all())
    last = await last_messages(session, [p.id for p in previous]) if previous else {}
    previews = {cid: message_preview(m) for cid, m in last.items()}
    return ConversationPage(conversation, messages, contact, previous, previews, operators, teams)


def assignable(page: ConversationPage, scope: Scope) -> list[Operator]:
    """Operators this person may assign to: leads anyone, operators members of their own teams."""
    if scope.is_lead:
        return page.operators
    return [o for o in page.operators if o.id == scope.operator_id or {t.id for t in o.teams} & scope.team_ids]


def source_items(source: dict[str, Any]) -> list[tuple[str, str]]:
    """The touchpoint as (key, text) pairs, flattening UTM tags; values are shown as text, never as links."""
    items: list[tuple[str, str]] = []
    for key, value in source.items():
        if isinstance(value, dict):
            items.extend((f"{key}.{k}", str(v)) for k, v in value.items() if v not in (None, ""))
        elif value not in (None, ""):
            items.append((str(key), str(value)))
    return items[:20]
