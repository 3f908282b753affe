"""Earlier versions of an edited message: the original and each version an edit replaced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from lines.console.actions import visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Call, Out, Route
from lines.console.keys import sessions_key
from lines.console.models import Message, MessageRevision
from lines.console.serialize import iso


class RevisionOut(Out):
    text: str
    html: str | None
    created_at: datetime | None
    replaced_at: datetime | None


class RevisionList(Out):
    message_id: int
    edited_at: datetime | None
    text: str
    revisions: list[RevisionOut]


async def message_revisions(call: Call) -> dict[str, Any]:
    """The current text and the earlier versions, oldest first (empty if never edited)."""
    async with call.app[sessions_key]() as session:
        conversation = await visible_conversation(session, call.ctx.scope, call.ids["id"])
        message = await session.get(Message, call.ids["message_id"])
        if message is None or message.conversation_id != conversation.id:
            raise ApiError(404, "not_found", f"message {call.ids['message_id']} not found")
        rows = await session.scalars(
            select(MessageRevision).where(MessageRevision.message_id == message.id).order_by(MessageRevision.id)
        )
        revisions = [
            {"text": r.text, "html": r.html, "created_at": iso(r.created_at), "replaced_at": iso(r.replaced_at)}
            for r in rows
        ]
    return {"message_id": message.id, "edited_at": iso(message.edited_at), "text": message.text, "revisions": revisions}


ROUTES = [
    Route(
        "GET",
        "/api/v1/conversations/{id}/messages/{message_id}/revisions",
        message_revisions,
        "Earlier versions of a message the customer edited",
        RevisionList,
        errors=(404,),
        tag="conversations",
    ),
]
