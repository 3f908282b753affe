"""dismissed duplicate pairs stay out of the review queue

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "duplicate_dismissals",
        sa.Column("low_id", ID, sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("high_id", ID, sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("dismissed_by", sa.Integer(), sa.ForeignKey("operators.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("duplicate_dismissals")
