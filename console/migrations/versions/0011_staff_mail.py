"""staff mail: operators' email addresses and the SLA escalation mail queue

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "staff_mail",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sla_event_id", BIG_ID, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sla_event_id"], ["sla_events.id"], name=op.f("fk_staff_mail_sla_event_id_sla_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_staff_mail_operator_id_operators"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_mail")),
        sa.UniqueConstraint("sla_event_id", "operator_id", name="uq_staff_mail_event_operator"),
    )
    op.create_index(op.f("ix_staff_mail_operator_id"), "staff_mail", ["operator_id"], unique=False)
    op.create_index("ix_staff_mail_status_next_attempt_at", "staff_mail", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_staff_mail_status_next_attempt_at", table_name="staff_mail")
    op.drop_index(op.f("ix_staff_mail_operator_id"), table_name="staff_mail")
    op.drop_table("staff_mail")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("email")
