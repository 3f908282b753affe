"""State changes by operators: `check` what is allowed, `do` the write, then publish the event.

Each action takes the session of the request (one per request, passed explicitly) and commits itself,
publishing events only after the commit so a console never shows what the store does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.access import Scope, in_team
from lines.console.changes import Assigned, PresenceChanged, PriorityChanged, Reply, StatusChanged
from lines.console.events import Audience, Events
from lines.console.inbox import channel_key, clean_text, load_conversation, load_message
from lines.console.keys import ReplySignature, RoomCheck
from lines.console.models import (
    AuthorKind,
    Conversation,
    ConversationRead,
    DeliveryStatus,
    Direction,
    Message,
    Operator,
    OutboxItem,
    Presence,
    PresenceChange,
    Priority,
    Status,
    Team,
    utcnow,
)
from lines.console.serialize import conversation_dict, message_dict, operator_brief

MAX_REPLY_CHARS = 20_000


class ActionError(Exception):
    """A refused action: `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def visible_conversation(session: AsyncSession, scope: Scope, conversation_id: int) -> Conversation:
    """The conversation if this operator may see it; 404 otherwise (never reveal that it exists)."""
    conversation = await load_conversation(session, conversation_id)
    if conversation is None or not scope.can_see_conversation(conversation):
        raise ActionError(404, "not_found", f"conversation {conversation_id} not found")
    return conversation


async def load_operator(session: AsyncSession, operator_id: int) -> Operator | None:
    return await session.scalar(
        select(Operator)
        .where(Operator.id == operator_id)
        .options(selectinload(Operator.teams))
        .execution_options(populate_existing=True)
    )


async def do_reply(
    session: AsyncSession,
    events: Events,
    scope: Scope,
    conversation_id: int,
    text: str,
    private: bool,
    wake_outbox: Callable[[], None],
    signature: ReplySignature | None = None,
) -> dict[str, Any]:
    """A public reply (through the outbox to the customer's channel) or a private note.

    A public reply keeps the signature it gets in `messages.extra["signature"]`, rendered now, so
    retries send the same text and the operator sees what went out; the channel adds it
    (`BaseChannel.deliver`, or the email adapter under its `-- ` line). Notes never get one."""
    text = clean_text(text.strip(), MAX_REPLY_CHARS + 1)
    if not text:
        raise ActionError(422, "empty_text", "text must not be empty")
    if len(text) > MAX_REPLY_CHARS:
        raise ActionError(422, "text_too_long", f"text is longer than {MAX_REPLY_CHARS} characters")
    conversation = await visible_conversation(session, scope, conversation_id)
    operator = await session.get(Operator, scope.operator_id)
    assert operator is not None
    signed = await signature(session, conversation, operator.id) if signature and not private else ""
    now = utcnow()
    message = Message(
        conversation_id=conversation.id,
        channel_key=channel_key(conversation.channel, conversation.inbox),
        direction=Direction.NOTE if private else Direction.OUT,
        author_kind=AuthorKind.OPERATOR,
        author_operator_id=operator.id,
        author_name=operator.name,
        text=text,
        delivery_status=DeliveryStatus.SENT if private else DeliveryStatus.QUEUED,
        created_at=now,
        extra={"signature": signed} if signed else {},
    )
    session.add(message)
    await session.flush()
    reopened = False
    if not private:
        session.add(OutboxItem(message_id=message.id, channel=conversation.channel, inbox=conversation.inbox))
        conversation.last_message_at = now
        if conversation.first_response_at is None:
            conversation.first_response_at = now
        if conversation.status == Status.RESOLVED:
            conversation.status, conversation.resolved_at, reopened = Status.OPEN, None, True
    conversation.updated_at = now
    message_id = message.id
    await session.commit()
    if not private:
        wake_outbox()
    stored = await load_message(session, message_id)
    assert stored is not None
    data = message_dict(stored)
    audience = Audience.of(conversation)
    await events.send("message.created", data, audience)
    if reopened or not private:
        fresh = await load_conversation(session, conversation.id)
        assert fresh is not None
        await events.send("conversation.updated", conversation_dict(fresh), audience)
    if not private:
        await events.change(
            Reply(conversation_id=conversation.id, message_id=message_id, author_kind=AuthorKind.OPERATOR.value)
        )
    return data


async def do_assign(
    session: AsyncSession,
    events: Events,
    scope: Scope,
    conversation_id: int,
    operator_id: int | None,
    team_name: str | None,
    *,
    has_room: RoomCheck,
    expect_assignee: Collection[int | None] | None = None,
    unassign: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Assign to an operator (`operator_id`, or None to unassign) and/or move to a team.

    The write is a compare-and-set on the assignee and team read here, so two operators clicking
    "take" at once produce one winner; the other gets 409 with who has it.
    `expect_assignee` makes the caller's view of the current assignee a precondition too: "take"
    passes `(None, me)`, so a conversation someone else took a moment ago is not silently taken
    over. `unassign` with a team move drops the assignee even if they are a member of the new team.
    The assignee is always a member of the conversation's team. `has_room` is the routing part's
    capacity check (`room_check_key`).
    """
    conversation = await visible_conversation(session, scope, conversation_id)
    if expect_assignee is not None and conversation.assignee_id not in expect_assignee:
        holder = conversation.assignee.name if conversation.assignee else "nobody"
        raise ActionError(409, "conflict", f"conversation was changed meanwhile; now assigned to {holder}")
    old_audience = Audience.of(conversation)
    conversation_assignee_before = conversation.assignee_id
    team_id = conversation.team_id
    if team_name is not None:
        team = await session.scalar(select(Team).where(Team.name == team_name))
        if team is None:
            raise ActionError(422, "unknown_team", f"team {team_name!r} does not exist")
        team_id = team.id
    assignee_id = conversation.assignee_id
    if operator_id is not None:
        assignee = await load_operator(session, operator_id)
        if assignee is None or not assignee.active:
            raise ActionError(422, "unknown_operator", f"operator {operator_id} does not exist")
        member_of = {t.id for t in assignee.teams}
        if not in_team(assignee, team_id):
            if team_name is None and len(member_of) == 1:
                team_id = next(iter(member_of))
            else:
                raise ActionError(
                    422, "not_in_team", f"operator {assignee.login} is not a member of the conversation's team"
                )
        if not scope.is_lead and assignee.id != scope.operator_id and team_id not in scope.team_ids:
            raise ActionError(403, "forbidden", "operators assign only within their own teams")
        if force or not await _takes_freely(session, scope, assignee, team_id):
            await _check_capacity(session, scope, conversation, assignee, force, has_room)
        assignee_id = assignee.id
    elif team_name is not None and assignee_id is not None and not unassign:
        current = await load_operator(session, assignee_id)
        if current is None or team_id not in {t.id for t in current.teams}:
            assignee_id = None
    else:
        assignee_id = None
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            Conversation.assignee_id.is_(conversation.assignee_id)
            if conversation.assignee_id is None
            else Conversation.assignee_id == conversation.assignee_id,
            Conversation.team_id.is_(conversation.team_id)
            if conversation.team_id is None
            else Conversation.team_id == conversation.team_id,
        )
        .values(
            assignee_id=assignee_id,
            team_id=team_id,
            updated_at=utcnow(),
            assigned_at=utcnow() if assignee_id is not None else None,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        winner = await load_conversation(session, conversation_id)  # rollback expired `conversation`
        holder = winner.assignee.name if winner and winner.assignee else "someone else"
        raise ActionError(409, "conflict", f"conversation was changed meanwhile; now assigned to {holder}")
    await session.commit()
    fresh = await load_conversation(session, conversation.id)
    assert fresh is not None
    data = conversation_dict(fresh)
    new_audience = Audience.of(fresh)
    await events.send("conversation.assigned", data, new_audience)
    await _tell_who_lost_sight(events, old_audience, new_audience, fresh.id)
    await events.change(
        Assigned(
            conversation_id=fresh.id,
            operator_id=assignee_id,
            previous_operator_id=conversation_assignee_before,
            by_operator_id=scope.operator_id,
        )
    )
    return data


async def _tell_who_lost_sight(events: Events, old: Audience, new: Audience, conversation_id: int) -> None:
    if (old.team_id, old.assignee_id) != (new.team_id, new.assignee_id):
        await events.send("conversation.removed", {"id": conversation_id, "if_hidden": True}, old)


async def do_set_status(
    session: AsyncSession,
    events: Events,
    scope: Scope,
    conversation_id: int,
    status: Status,
    until: datetime | None,
) -> dict[str, Any]:
    conversation = await visible_conversation(session, scope, conversation_id)
    now = utcnow()
    if status == Status.SNOOZED:
        if until is None:
            raise ActionError(422, "until_required", "snoozed needs `until`, a time in the future")
        if until.tzinfo is None:
            raise ActionError(422, "until_naive", "`until` needs a time zone offset")
        if until <= now:
            raise ActionError(422, "until_in_past", "`until` must be in the future")
    elif until is not None:
        raise ActionError(422, "until_not_allowed", "`until` is only for status snoozed")
    previous_status = conversation.status
    conversation.status = status
    conversation.snoozed_until = until if status == Status.SNOOZED else None
    conversation.resolved_at = now if status == Status.RESOLVED else None
    conversation.updated_at = now
    await session.commit()
    fresh = await load_conversation(session, conversation.id)
    assert fresh is not None
    data = conversation_dict(fresh)
    await events.send("conversation.updated", data, Audience.of(fresh))
    await events.change(StatusChanged(conversation_id=fresh.id, status=str(status), previous=str(previous_status)))
    return data


async def do_set_priority(
    session: AsyncSession, events: Events, scope: Scope, conversation_id: int, priority: Priority
) -> dict[str, Any]:
    """Set the conversation's priority (who may see it may change it, like its status) and keep who
    changed it from what as a system note in its history. Setting the same priority changes nothing."""
    conversation = await visible_conversation(session, scope, conversation_id)
    previous = Priority(conversation.priority)
    if previous != priority:
        operator = await session.get(Operator, scope.operator_id)
        by = operator.name if operator is not None else f"operator {scope.operator_id}"
        now = utcnow()
        conversation.priority = priority
        conversation.updated_at = now
        note = Message(
            conversation_id=conversation.id,
            channel_key=channel_key(conversation.channel, conversation.inbox),
            direction=Direction.SYSTEM,
            author_kind=AuthorKind.SYSTEM,
            text=f"Priority changed from {previous} to {priority} by {by}",
            delivery_status=DeliveryStatus.RECEIVED,
            extra={"priority": {"from": str(previous), "to": str(priority), "by_operator_id": scope.operator_id}},
            created_at=now,
        )
        session.add(note)
        await session.flush()
        note_id = note.id
        await session.commit()
        stored = await load_message(session, note_id)
        assert stored is not None
        await events.send("message.created", message_dict(stored), Audience.of(conversation))
    fresh = await load_conversation(session, conversation.id)
    assert fresh is not None
    data = conversation_dict(fresh)
    if previous != priority:
        await events.send("conversation.updated", data, Audience.of(fresh))
        await events.change(PriorityChanged(conversation_id=fresh.id, priority=str(priority), previous=str(previous)))
    return data


async def do_set_presence(
    session: AsyncSession, events: Events, operator_id: int, presence: Presence
) -> dict[str, Any]:
    operator = await session.get(Operator, operator_id)
    assert operator is not None
    now = utcnow()
    operator.presence = presence
    operator.presence_changed_at = now
    session.add(PresenceChange(operator_id=operator_id, presence=presence, at=now))
    await session.commit()
    data = {"operator": operator_brief(operator), "presence": presence.value}
    await events.send("operator.presence", data, Audience(everyone=True))
    await events.change(PresenceChanged(operator_id=operator_id, presence=str(presence)))
    return data


async def do_mark_read(session: AsyncSession, scope: Scope, conversation_id: int) -> None:
    """Mark everything so far as read; two tabs marking at once is not an error."""
    conversation = await visible_conversation(session, scope, conversation_id)
    last = await session.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation.id))
    if last is None:
        return
    for attempt in range(2):
        read = await session.get(ConversationRead, (scope.operator_id, conversation.id), populate_existing=True)
        if read is None:
            session.add(
                ConversationRead(
                    operator_id=scope.operator_id, conversation_id=conversation.id, last_read_message_id=last
                )
            )
        elif read.last_read_message_id < last:
            read.last_read_message_id = last
        try:
            await session.commit()
            return
        except IntegrityError:
            await session.rollback()
            if attempt == 1:
                raise


async def no_capacity_limit(session: AsyncSession, operator: Operator, channel: str) -> bool:
    """The room check without the routing part: capacities are routing's, so nothing limits."""
    return True


async def _takes_freely(session: AsyncSession, scope: Scope, assignee: Operator, team_id: int | None) -> bool:
    """Capacity limits automatic assignment only: an operator taking a chat themselves is not held to
    it, unless the conversation's team (for a chat without one: any of theirs) respects capacity."""
    if assignee.id != scope.operator_id:
        return False
    teams = [team_id] if team_id is not None else [t.id for t in assignee.teams]
    if not teams:
        return True
    strict = await session.scalar(select(Team.id).where(Team.id.in_(teams), Team.respect_capacity.is_(True)).limit(1))
    return strict is None


async def _check_capacity(
    session: AsyncSession,
    scope: Scope,
    conversation: Conversation,
    assignee: Operator,
    force: bool,
    has_room: RoomCheck,
) -> None:
    """Manual assignment and transfer respect the assignee's capacity; a lead may force it."""
    if force and not scope.is_lead:
        raise ActionError(403, "forbidden", "only leads force an assignment over capacity")
    if force or conversation.assignee_id == assignee.id:
        return
    if not await has_room(session, assignee, conversation.channel):
        raise ActionError(409, "at_capacity", f"{assignee.name} is at capacity; a lead can force the assignment")
