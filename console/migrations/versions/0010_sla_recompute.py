"""sla: the recompute marker on the policy document (deadlines recomputed in the background)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("sla_policy_documents") as batch:
        batch.add_column(sa.Column("recompute_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recompute_cursor", BIG_ID, server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("recompute_owner", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("recompute_lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("recomputed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_policy_documents") as batch:
        for column in (
            "recomputed_at",
            "recompute_lease_until",
            "recompute_owner",
            "recompute_cursor",
            "recompute_version",
        ):
            batch.drop_column(column)
