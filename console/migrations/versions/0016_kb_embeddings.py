"""knowledge-base articles keep their sentence embeddings (and which model and text made them)

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kb_articles") as batch:
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("embedding_key", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_articles") as batch:
        batch.drop_column("embedding_key")
        batch.drop_column("embedding")
