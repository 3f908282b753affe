"""Whether a contact may be written to on a channel: opted out, unreachable or blocked identities."""

from __future__ import annotations

import enum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.db import SessionMaker
from lines.console.models import ContactIdentity, Conversation, utcnow


class IdentityState(enum.StrEnum):
    ACTIVE = "active"
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"


async def set_identity_state(
    sessions: SessionMaker, channel: str, inbox: str, external_id: str, state: IdentityState, reason: str = ""
) -> int | None:
    """Set the state of one identity; returns its contact id, or None when the identity is unknown."""
    async with sessions() as session, session.begin():
        contact_id = await session.scalar(
            update(ContactIdentity)
            .where(
                ContactIdentity.channel == channel,
                ContactIdentity.inbox == inbox,
                ContactIdentity.external_id == external_id,
            )
            .values(state=state.value, state_reason=reason[:2000], state_changed_at=utcnow())
            .returning(ContactIdentity.contact_id)
        )
    return contact_id


async def conversation_identity(session: AsyncSession, conversation: Conversation) -> ContactIdentity | None:
    """The identity a conversation's messages go to: the one the customer wrote from (or an
    operator wrote to), never another identity the contact has on the channel since a merge.

    A conversation stored before identities were recorded falls back to the contact's identity on
    its channel and inbox (a verified one first, then the oldest).
    """
    if conversation.identity_id is not None:
        return await session.get(ContactIdentity, conversation.identity_id)
    return await session.scalar(
        select(ContactIdentity)
        .where(
            ContactIdentity.contact_id == conversation.contact_id,
            ContactIdentity.channel == conversation.channel,
            ContactIdentity.inbox == conversation.inbox,
        )
        .order_by(ContactIdentity.verified.desc(), ContactIdentity.id)
        .limit(1)
    )
