"""presence changes: each operator presence change, for the what-if simulator's replay

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "presence_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=11), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_presence_changes_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_changes")),
    )
    op.create_index("ix_presence_changes_operator_id_at", "presence_changes", ["operator_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_presence_changes_operator_id_at", table_name="presence_changes")
    op.drop_table("presence_changes")
