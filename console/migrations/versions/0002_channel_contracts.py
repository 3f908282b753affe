"""channel state, identity reachability, bot state

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_state",
        sa.Column("channel_key", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column(
            "value", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_key", "key", name=op.f("pk_channel_state")),
    )
    with op.batch_alter_table("contact_identities") as batch:
        batch.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="active"))
        batch.add_column(sa.Column("state_reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("bot_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sla_state", sa.String(length=16), nullable=True))
        batch.create_index(batch.f("ix_conversations_sla_due_at"), ["sla_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index(batch.f("ix_conversations_sla_due_at"))
        batch.drop_column("sla_state")
        batch.drop_column("sla_due_at")
        batch.drop_column("bot_state")
    with op.batch_alter_table("contact_identities") as batch:
        batch.drop_column("state_changed_at")
        batch.drop_column("state_reason")
        batch.drop_column("state")
    op.drop_table("channel_state")
