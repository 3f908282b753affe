"""What a customer may read back: their conversation's public messages, never notes or system rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lines.console.db import SessionMaker
from lines.console.models import ContactIdentity, Conversation, Direction, Message
from lines.console.serialize import attachment_dict, iso

PUBLIC = (Direction.IN, Direction.OUT)


def public_message(message: Message) -> dict[str, Any]:
    """Needs `message.attachments` loaded. Operators' logins and ids are not exposed to customers."""
    author = {"in": "contact", "out": "bot" if message.author_kind == "bot" else "operator"}[message.direction]
    return {
        "id": message.id,
        "author": author,
        "name": message.author_name if author != "contact" else "",
        "text": message.text,
        "at": iso(message.created_at),
        "attachments": [
            {k: v for k, v in attachment_dict(a).items() if k in ("filename", "content_type", "size")}
            for a in message.attachments
        ],
        **_buttons(message),
    }


def _buttons(message: Message) -> dict[str, Any]:
    """An outbound message's buttons (`extra["buttons"]`, see console/automated.py), if it has any."""
    raw = (message.extra or {}).get("buttons") if message.direction == Direction.OUT else None
    if not isinstance(raw, list) or not raw:
        return {}
    return {"buttons": [{"id": str(b.get("id")), "label": str(b.get("label"))} for b in raw if isinstance(b, dict)]}


class CustomerHistory:
    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions

    async def latest(
        self,
        channel: str,
        inbox: str,
        external_id: str,
        after_id: int | None,
        limit: int = 200,
        resume_limit: int = 1000,
    ) -> tuple[int | None, list[dict[str, Any]]]:
        """The identity's latest conversation and its public messages, oldest first.

        Without `after_id`: the last `limit` messages (a new page load). With it: everything after
        `after_id` from the oldest on, up to `resume_limit`, so a reconnect never skips the gap's start.
        """
        async with self._sessions() as session:
            conversation_id = await session.scalar(
                select(Conversation.id)
                .join(ContactIdentity, ContactIdentity.id == Conversation.identity_id)
                .where(
                    ContactIdentity.channel == channel,
                    ContactIdentity.inbox == inbox,
                    ContactIdentity.external_id == external_id,
                    Conversation.channel == channel,
                    Conversation.inbox == inbox,
                )
                .order_by(Conversation.id.desc())
                .limit(1)
            )
            if conversation_id is None:
                return None, []
            query = (
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.direction.in_(PUBLIC))
                .options(selectinload(Message.attachments))
            )
            if after_id is None:
                query = query.order_by(Message.id.desc()).limit(limit)
            else:
                query = query.where(Message.id > after_id).order_by(Message.id).limit(resume_limit)
            messages = list((await session.scalars(query)).all())
        if after_id is None:
            messages.reverse()
        return conversation_id, [public_message(m) for m in messages]
