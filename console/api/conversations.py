"""Conversations: the inbox views, one conversation with its history, and the operator's actions on it.

Every query goes through `Scope.conversation_filter()` / `visible_conversation`, so another team's
conversation is a 404 on read and write alike. Filters come from allow-lists
and reach SQL only as bound parameters (docs/reliability.md#filters-and-injection).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, model_validator
from sqlalchemy import ColumnElement, and_, case, or_, select
from sqlalchemy.orm import aliased, selectinload

from lines.console import keyset
from lines.console.access import view_filter
from lines.console.actions import (
    do_assign,
    do_mark_read,
    do_reply,
    do_set_priority,
    do_set_status,
    no_capacity_limit,
    visible_conversation,
)
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Id, Query, Route
from lines.console.api.schemas import ConversationDetail, ConversationList, ConversationOut, MessageOut, OkOut
from lines.console.identities import conversation_identity
from lines.console.keys import events_key, outbox_key, reply_signature_key, room_check_key, sessions_key
from lines.console.models import Contact, Conversation, ConversationRead, Message, Priority, Status
from lines.console.serialize import contact_dict, conversation_brief, conversation_dict, message_dict
from lines.console.users import TEAM

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_MESSAGES = 1000
MAX_PREVIOUS = 50

View = Literal["mine", "unassigned", "team", "all"]


class ListQuery(Query):
    view: View = "all"
    status: Literal["open", "pending", "snoozed", "resolved", "any"] = "open"
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    before: Annotated[
        str | None, Field(max_length=48, description="`next_cursor` of the previous page, with the same `sort`")
    ] = None
    sort: Annotated[
        Literal["recent", "sla"],
        Field(description="`recent`: newest activity first; `sla`: nearest SLA deadline first, none last"),
    ] = "recent"
    sla_state: Literal["ok", "warning", "breached", "paused", "met"] | None = None
    channel: Annotated[str | None, Field(pattern=r"^[a-z0-9_]{1,32}$")] = None
    team_id: Id | None = None
    assignee_id: Id | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None


class ReplyIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=20_000)]
    private: bool = False


class AssignIn(Body):
    """`{operator_id}` assigns (null unassigns), `{team}` moves to a team; both may be given.

    Assigning yourself ("take") succeeds only while the conversation is unassigned or already
    yours, unless `expected_assignee_id` names who you know holds it (a lead taking over).
    """

    operator_id: Id | None = None
    team: Annotated[str, Field(pattern=TEAM.pattern)] | None = None
    expected_assignee_id: Id | None = None
    force: bool = False
    """Leads only: assign even if the operator is at capacity."""

    @model_validator(mode="after")
    def _something(self) -> AssignIn:
        if not {"operator_id", "team"} & self.model_fields_set:
            raise ValueError("give operator_id, team or both")
        return self


class StatusIn(Body):
    status: Literal["open", "pending", "snoozed", "resolved"]
    until: AwareDatetime | None = None


class PriorityIn(Body):
    priority: Literal["low", "normal", "high", "urgent"]


def _unread(read: Any) -> ColumnElement[bool]:
    return case(
        (
            and_(
                Conversation.last_inbound_message_id.is_not(None),
                or_(
                    read.last_read_message_id.is_(None),
                    read.last_read_message_id < Conversation.last_inbound_message_id,
                ),
            ),
            True,
        ),
        else_=False,
    )


async def list_conversations(call: Call) -> dict[str, Any]:
    """Views: `mine` (assigned to me), `unassigned`, `team` (my teams'), `all` (everything I may see;
    the default). `status` defaults to `open`; `any` lifts the filter; `channel`, `team_id`,
    `assignee_id`, `priority` and `sla_state` narrow further. Newest activity first, or `sort=sla`;
    pass `next_cursor` back as `before` (same sort and filters) for the next page: every matching
    conversation is on exactly one page. `unread` compares my read mark with the last
    customer message."""
    query = call.query(ListQuery)
    scope = call.ctx.scope
    read = aliased(ConversationRead)
    stmt = (
        select(Conversation, _unread(read).label("unread"))
        .outerjoin(read, and_(read.conversation_id == Conversation.id, read.operator_id == scope.operator_id))
        .where(scope.conversation_filter(), view_filter(scope, query.view))
        .order_by(*keyset.order(query.sort))
        .limit(query.limit + 1)
        .options(
            selectinload(Conversation.contact),
            selectinload(Conversation.assignee),
            selectinload(Conversation.team),
        )
    )
    if query.status != "any":
        stmt = stmt.where(Conversation.status == query.status)
    for column, value in (
        (Conversation.sla_state, query.sla_state),
        (Conversation.channel, query.channel),
        (Conversation.team_id, query.team_id),
        (Conversation.assignee_id, query.assignee_id),
        (Conversation.priority, query.priority),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.before:
        try:
            stmt = stmt.where(keyset.after(query.before, query.sort))
        except keyset.BadCursor as err:
            raise ApiError(422, "validation_error", "before: not a cursor from next_cursor for this sort") from err
    async with call.app[sessions_key]() as session:
        rows = (await session.execute(stmt)).all()
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return {
        "conversations": [conversation_dict(c, unread=bool(unread)) for c, unread in page],
        "next_cursor": keyset.cursor(page[-1][0], query.sort) if more else None,
    }


async def get_conversation(call: Call) -> dict[str, Any]:
    """The latest 1000 messages (oldest first; `messages_truncated` says if there were more), the
    contact with their identities on every channel, their other conversations that I may see, and
    the state of the identity replies go to (`sender_state`: blocked, opted out...)."""
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        conversation = await visible_conversation(session, scope, call.ids["id"])
        contact = await session.scalar(
            select(Contact).where(Contact.id == conversation.contact_id).options(selectinload(Contact.identities))
        )
        assert contact is not None
        messages = (
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.id.desc())
                .limit(MAX_MESSAGES + 1)
                .options(selectinload(Message.attachments))
            )
        ).all()
        previous = (
            await session.scalars(
                select(Conversation)
                .where(
                    Conversation.contact_id == contact.id,
                    Conversation.id != conversation.id,
                    scope.conversation_filter(),
                )
                .order_by(Conversation.id.desc())
                .limit(MAX_PREVIOUS)
                .options(selectinload(Conversation.assignee), selectinload(Conversation.team))
            )
        ).all()
        sender = await conversation_identity(session, conversation)
        read_up_to = await session.scalar(
            select(ConversationRead.last_read_message_id).where(
                ConversationRead.operator_id == scope.operator_id,
                ConversationRead.conversation_id == conversation.id,
            )
        )
    last_in = conversation.last_inbound_message_id
    unread = last_in is not None and (read_up_to is None or read_up_to < last_in)
    shown = list(reversed(messages[:MAX_MESSAGES]))
    return {
        **conversation_dict(conversation, unread=unread),
        "contact": contact_dict(contact),
        "messages": [message_dict(m) for m in shown],
        "messages_truncated": len(messages) > MAX_MESSAGES,
        "previous_conversations": [conversation_brief(c) for c in previous],
        "sender_state": str(sender.state) if sender is not None else None,
    }


async def reply(call: Call) -> dict[str, Any]:
    """A reply is queued in the outbox (`delivery_status` `queued`, then `message.updated` events);
    `private: true` stores a note that never leaves. Replying reopens a resolved conversation."""
    body = call.body(ReplyIn)
    async with call.app[sessions_key]() as session:
        return await do_reply(
            session,
            call.app[events_key],
            call.ctx.scope,
            call.ids["id"],
            body.text,
            body.private,
            call.app[outbox_key].notify,
            call.app.get(reply_signature_key),
        )


async def assign(call: Call) -> dict[str, Any]:
    """Assigning yourself ("take") answers 409 naming the holder if someone else has it, unless
    `expected_assignee_id` says whom you mean to take it from. The assignee must belong to the
    conversation's team (422 `not_in_team`); if they belong to exactly one other team and no `team`
    is given, the conversation moves there."""
    body = call.body(AssignIn)
    scope = call.ctx.scope
    fields = body.model_fields_set
    expect: tuple[int | None, ...] | None = None
    if "expected_assignee_id" in fields:
        expect = (body.expected_assignee_id,)
    elif body.operator_id == scope.operator_id:
        expect = (None, scope.operator_id)
    async with call.app[sessions_key]() as session:
        return await do_assign(
            session,
            call.app[events_key],
            scope,
            call.ids["id"],
            body.operator_id,
            body.team,
            has_room=call.app.get(room_check_key, no_capacity_limit),
            expect_assignee=expect,
            unassign="operator_id" in fields and body.operator_id is None,
            force=body.force,
        )


async def set_status(call: Call) -> dict[str, Any]:
    """`snoozed` needs `until`, a future time with an offset; other statuses refuse it."""
    body = call.body(StatusIn)
    async with call.app[sessions_key]() as session:
        return await do_set_status(
            session, call.app[events_key], call.ctx.scope, call.ids["id"], Status(body.status), body.until
        )


async def set_priority(call: Call) -> dict[str, Any]:
    """Operators and leads set the priority of a conversation they may see (SLA policies that match
    on priority are re-matched); the change is kept as a system note in the history."""
    body = call.body(PriorityIn)
    async with call.app[sessions_key]() as session:
        return await do_set_priority(
            session, call.app[events_key], call.ctx.scope, call.ids["id"], Priority(body.priority)
        )


async def mark_read(call: Call) -> dict[str, Any]:
    """Everything in the conversation so far counts as read by me."""
    async with call.app[sessions_key]() as session:
        await do_mark_read(session, call.ctx.scope, call.ids["id"])
    return {"ok": True}


ONE = "/api/v1/conversations/{id}"
ROUTES = [
    Route(
        "GET",
        "/api/v1/conversations",
        list_conversations,
        "Inbox: conversations I may see, filtered, sorted, paged by cursor",
        ConversationList,
        query=ListQuery,
        tag="conversations",
    ),
    Route(
        "GET",
        ONE,
        get_conversation,
        "One conversation with its messages, contact, identities and the contact's previous conversations",
        ConversationDetail,
        errors=(404,),
        tag="conversations",
    ),
    Route(
        "POST",
        f"{ONE}/messages",
        reply,
        "Reply to the customer through the conversation's channel, or add a private note",
        MessageOut,
        body=ReplyIn,
        status=201,
        errors=(404,),
        tag="conversations",
    ),
    Route(
        "POST",
        f"{ONE}/assign",
        assign,
        "Assign to an operator, unassign, or move to a team",
        ConversationOut,
        body=AssignIn,
        errors=(404, 409),
        tag="conversations",
    ),
    Route(
        "POST",
        f"{ONE}/status",
        set_status,
        "Open, set pending, snooze until a time, or resolve",
        ConversationOut,
        body=StatusIn,
        errors=(404,),
        tag="conversations",
    ),
    Route(
        "POST",
        f"{ONE}/priority",
        set_priority,
        "Set the priority (low, normal, high, urgent); kept as a system note in the history",
        ConversationOut,
        body=PriorityIn,
        errors=(404,),
        tag="conversations",
    ),
    Route(
        "POST", f"{ONE}/read", mark_read, "Mark the conversation read for me", OkOut, errors=(404,), tag="conversations"
    ),
]
