"""SLA: policy document, per-conversation clocks, fired warnings and breaches

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sla_policy_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["operators.id"],
            name=op.f("fk_sla_policy_documents_updated_by_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy_documents")),
    )
    op.create_table(
        "conversation_sla",
        sa.Column("conversation_id", BIG_ID, nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=True),
        sa.Column("clocks", JSON, nullable=False),
        sa.Column("deadlines", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_sla_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_sla")),
    )
    op.create_index(op.f("ix_conversation_sla_next_fire_at"), "conversation_sla", ["next_fire_at"], unique=False)
    op.create_table(
        "sla_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("conversation_id", BIG_ID, nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cycle", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_sla_events_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_events")),
        sa.UniqueConstraint("conversation_id", "target", "kind", "cycle", name="uq_sla_event"),
    )
    op.create_index("ix_sla_events_kind_fired_at", "sla_events", ["kind", "fired_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sla_events_kind_fired_at", table_name="sla_events")
    op.drop_table("sla_events")
    op.drop_index(op.f("ix_conversation_sla_next_fire_at"), table_name="conversation_sla")
    op.drop_table("conversation_sla")
    op.drop_table("sla_policy_documents")
