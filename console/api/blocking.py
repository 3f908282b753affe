"""Blocking a conversation's sender on their channel (issue 4).

A blocked identity's messages are still stored (in their latest conversation) but open, reopen and
announce nothing, and the outbox sends nothing to it. Unblocking makes it `active` again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from lines.console.actions import visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.routing import Body, Call, Out, Route
from lines.console.identities import IdentityState, conversation_identity, set_identity_state
from lines.console.keys import sessions_key


class BlockIn(Body):
    blocked: bool = True
    reason: str = Field(default="", max_length=500)


class BlockOut(Out):
    contact_id: int
    channel: str
    inbox: str
    external_id: str
    state: Literal["active", "opted_out", "unreachable", "blocked"]


async def block_sender(call: Call) -> dict[str, Any]:
    """Block (or with `blocked: false` unblock) the identity that writes in this conversation."""
    body = call.body(BlockIn)
    sessions = call.app[sessions_key]
    async with sessions() as session:
        conversation = await visible_conversation(session, call.ctx.scope, call.ids["id"])
        identity = await conversation_identity(session, conversation)
    if identity is None:
        raise ApiError(409, "no_identity", "this conversation has no sender identity to block")
    state = IdentityState.BLOCKED if body.blocked else IdentityState.ACTIVE
    reason = body.reason or (f"blocked by {call.ctx.operator.name}" if body.blocked else "")
    await set_identity_state(sessions, identity.channel, identity.inbox, identity.external_id, state, reason)
    return {
        "contact_id": identity.contact_id,
        "channel": identity.channel,
        "inbox": identity.inbox,
        "external_id": identity.external_id,
        "state": str(state),
    }


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
