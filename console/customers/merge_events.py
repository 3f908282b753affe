"""Tells consoles that a merge or an unmerge moved conversations between contacts.

Published after the commit, like every event (`console/events.py`): each moved conversation gets
`conversation.updated` (its contact changed: inbox rows and the conversation page re-read the
name), and every console that may see a conversation of either contact gets `contact.merged` or
`contact.unmerged`, so a customer card showing either contact reloads. The contact event goes once
per audience (team and assignee), naming the conversations of that audience, so no operator learns
of a conversation they may not see.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.customers.models import ContactMerge
from lines.console.events import Audience, Events
from lines.console.models import Conversation
from lines.console.serialize import conversation_dict


async def announce(session: AsyncSession, events: Events, merge: ContactMerge, undone: bool) -> None:
    """Publish what `merge` (or undoing it, `undone`) changed; call after the commit."""
    contact_ids = (merge.kept_id, merge.merged_id)
    conversations = (
        await session.scalars(
            select(Conversation)
            .where(Conversation.contact_id.in_(contact_ids))
            .options(
                selectinload(Conversation.contact),
                selectinload(Conversation.assignee),
                selectinload(Conversation.team),
            )
            .order_by(Conversation.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    # What moved: to the kept contact on a merge, back to the merged one on an unmerge.
    destination = merge.merged_id if undone else merge.kept_id
    snapshot_ids = set((merge.snapshot or {}).get("conversation_ids", []))
    moved = [c for c in conversations if c.id in snapshot_ids and c.contact_id == destination]
    for conversation in moved:
        await events.send("conversation.updated", conversation_dict(conversation), Audience.of(conversation))
    groups: dict[tuple[int | None, int | None], list[Conversation]] = defaultdict(list)
    for conversation in conversations:
        groups[(conversation.team_id, conversation.assignee_id)].append(conversation)
    moved_ids = {c.id for c in moved}
    for (team_id, assignee_id), members in groups.items():
        data: dict[str, Any] = {
            "merge_id": merge.id,
            "kept_id": merge.kept_id,
            "merged_id": merge.merged_id,
            "conversations": [{"id": c.id, "contact_id": c.contact_id} for c in members],
            "moved_ids": [c.id for c in members if c.id in moved_ids],
        }
        await events.send(
            "contact.unmerged" if undone else "contact.merged", data, Audience(team_id=team_id, assignee_id=assignee_id)
        )
