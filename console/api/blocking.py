"""Blocking a conversation's sender on their channel.

A blocked identity's messages are still stored (in their latest conversation) but open, reopen and
announce nothing, and the outbox sends nothing to it. Unblocking makes it `active` again. Either way
the consoles that show one of the sender's conversations on that channel hear `sender.state`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import and_, or_, select

from lines.console.access import Scope
from lines.console.actions import visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Out, Route
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.identities import IdentityState, conversation_identity, set_identity_state
from lines.console.keys import events_key, sessions_key
from lines.console.models import ContactIdentity, Conversation, Operator
from lines.console.serialize import operator_brief

SENDER_STATE = "sender.state"


class BlockIn(Body):
    blocked: bool = True
    reason: str = Field(default="", max_length=500)


class BlockOut(Out):
    contact_id: int
    channel: str
    inbox: str
    external_id: str
    state: Literal["active", "opted_out", "unreachable", "blocked"]


async def do_block_sender(
    sessions: SessionMaker,
    events: Events,
    scope: Scope,
    operator: Operator,
    conversation_id: int,
    blocked: bool,
    reason: str = "",
) -> dict[str, Any]:
    """Block (or unblock) the identity that writes in a conversation I may see, then tell the
    audience of every conversation it shows in. Raises 404 (not visible) or 409 (no identity)."""
    async with sessions() as session:
        conversation = await visible_conversation(session, scope, conversation_id)
        identity = await conversation_identity(session, conversation)
    if identity is None:
        raise ApiError(409, "no_identity", "this conversation has no sender identity to block")
    state = IdentityState.BLOCKED if blocked else IdentityState.ACTIVE
    reason = reason or (f"blocked by {operator.name}" if blocked else "")
    await set_identity_state(sessions, identity.channel, identity.inbox, identity.external_id, state, reason)
    data = {
        "contact_id": identity.contact_id,
        "channel": identity.channel,
        "inbox": identity.inbox,
        "external_id": identity.external_id,
        "state": str(state),
    }
    await _announce(sessions, events, identity, {**data, "by": operator_brief(operator)})
    return data


async def _announce(sessions: SessionMaker, events: Events, identity: ContactIdentity, data: dict[str, Any]) -> None:
    """`sender.state` to each audience of the conversations showing this sender (those written from
    this identity; one stored before identities were recorded: the contact's on its channel and
    inbox), one event per audience, naming only the conversations that audience may see."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Conversation.id, Conversation.team_id, Conversation.assignee_id).where(
                    or_(
                        Conversation.identity_id == identity.id,
                        and_(
                            Conversation.identity_id.is_(None),
                            Conversation.contact_id == identity.contact_id,
                            Conversation.channel == identity.channel,
                            Conversation.inbox == identity.inbox,
                        ),
                    )
                )
            )
        ).all()
    by_audience: dict[tuple[int | None, int | None], list[int]] = defaultdict(list)
    for conversation_id, team_id, assignee_id in rows:
        by_audience[(team_id, assignee_id)].append(conversation_id)
    for (team_id, assignee_id), ids in by_audience.items():
        audience = Audience(team_id=team_id, assignee_id=assignee_id)
        await events.send(SENDER_STATE, {**data, "conversation_ids": sorted(ids)}, audience)


async def block_sender(call: Call) -> dict[str, Any]:
    """Block (or with `blocked: false` unblock) the identity that writes in this conversation."""
    body = call.body(BlockIn)
    return await do_block_sender(
        call.app[sessions_key],
        call.app[events_key],
        call.ctx.scope,
        call.ctx.operator,
        call.ids["id"],
        body.blocked,
        body.reason,
    )


ROUTES = [
    Route(
        "POST",
        "/api/v1/conversations/{id}/block-sender",
        block_sender,
        "Block the sender on this conversation's channel: their messages are kept but open nothing",
        BlockOut,
        body=BlockIn,
        errors=(404, 409),
        tag="conversations",
    ),
]
