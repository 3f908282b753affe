"""a conversation's own identity, and the machine-sent flag of inbound messages

Revision ID: 0014
Revises: 0013

`conversations.identity_id` is backfilled from what the store knows: the contact's only identity on
the conversation's channel and inbox; where a merge gave it several there, a conversation that came
with the merge gets an identity that came with it, the others one the contact had before.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("identity_id", BIG_ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_conversations_identity_id_contact_identities"),
            "contact_identities",
            ["identity_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("automatic", sa.String(length=16), nullable=True))
    _backfill(op.get_bind())


def _backfill(bind: sa.engine.Connection) -> None:
    # The contact's identity on the conversation's channel and inbox: right for every contact with
    # one identity there; the few with several are decided below.
    op.execute(
        """
        UPDATE conversations SET identity_id = (
            SELECT MIN(ci.id) FROM contact_identities ci
            WHERE ci.contact_id = conversations.contact_id
              AND ci.channel = conversations.channel
              AND ci.inbox = conversations.inbox
        )
        """
    )
    ambiguous = bind.execute(
        sa.text(
            """
            SELECT c.id, ci.id AS identity_id FROM conversations c
            JOIN contact_identities ci
              ON ci.contact_id = c.contact_id AND ci.channel = c.channel AND ci.inbox = c.inbox
            WHERE (SELECT COUNT(*) FROM contact_identities x
                   WHERE x.contact_id = c.contact_id AND x.channel = c.channel AND x.inbox = c.inbox) > 1
            ORDER BY c.id, ci.id
            """
        )
    ).all()
    if not ambiguous:
        return
    candidates: dict[int, list[int]] = {}
    for conversation_id, identity_id in ambiguous:
        candidates.setdefault(conversation_id, []).append(identity_id)
    came_with: dict[int, set[int]] = {}
    moved: set[int] = set()
    for (snapshot,) in bind.execute(sa.text("SELECT snapshot FROM contact_merges WHERE undone_at IS NULL")).all():
        data = _snapshot(snapshot)
        identity_ids = {int(i) for i in data.get("identity_ids", [])}
        moved |= identity_ids
        for conversation_id in data.get("conversation_ids", []):
            came_with.setdefault(int(conversation_id), set()).update(identity_ids)
    for conversation_id, ids in candidates.items():
        if conversation_id in came_with:
            chosen = [i for i in ids if i in came_with[conversation_id]]
        else:
            chosen = [i for i in ids if i not in moved]
        bind.execute(
            sa.text("UPDATE conversations SET identity_id = :identity WHERE id = :id"),
            {"identity": (chosen or ids)[0], "id": conversation_id},
        )


def _snapshot(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return dict(json.loads(value))
    return dict(value or {})


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("automatic")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint(op.f("fk_conversations_identity_id_contact_identities"), type_="foreignkey")
        batch.drop_column("identity_id")
