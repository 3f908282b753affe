"""full-text search tables (FTS5 on SQLite, tsvector + GIN on PostgreSQL), filled from existing rows

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from lines.console.search.index import (
    CONTACTS,
    INDEXED_DIRECTIONS,
    MESSAGES,
    SUBJECTS,
    SearchTable,
    create_statements,
    document,
    drop_statements,
    write,
)

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def sources() -> list[tuple[SearchTable, sa.Select[Any]]]:
    """Each search table with the (id, text) rows it indexes."""
    messages = sa.table("messages", sa.column("id"), sa.column("text"), sa.column("direction"))
    conversations = sa.table("conversations", sa.column("id"), sa.column("subject"))
    contacts = sa.table(
        "contacts",
        sa.column("id"),
        sa.column("name", sa.String),
        sa.column("email", sa.String),
        sa.column("phone", sa.String),
    )
    blank = sa.literal("", sa.String)
    label = sa.func.coalesce(contacts.c.name, blank) + " " + sa.func.coalesce(contacts.c.email, blank)
    label = label + " " + sa.func.coalesce(contacts.c.phone, blank)
    return [
        (
            MESSAGES,
            sa.select(messages.c.id, messages.c.text.label("text")).where(
                messages.c.direction.in_([d.value for d in INDEXED_DIRECTIONS]), messages.c.text != ""
            ),
        ),
        (
            SUBJECTS,
            sa.select(conversations.c.id, conversations.c.subject.label("text")).where(conversations.c.subject != ""),
        ),
        (CONTACTS, sa.select(contacts.c.id, sa.func.trim(label).label("text"))),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    for statement in create_statements(bind.dialect.name):
        op.execute(statement)
    for search, source in sources():
        rows = source.subquery()
        if bind.dialect.name == "postgresql":
            target = sa.table(search.name, sa.column(search.key), sa.column("document"))
            filled = sa.select(rows.c.id, document(rows.c.text)).where(rows.c.text != "")
            bind.execute(sa.insert(target).from_select([search.key, "document"], filled))
            continue
        last = 0
        while True:  # SQLite: stems are made in Python, a batch at a time
            batch = bind.execute(sa.select(rows).where(rows.c.id > last).order_by(rows.c.id).limit(BATCH)).all()
            if not batch:
                break
            write(bind, search, [(int(r[0]), str(r[1] or "")) for r in batch])
            last = int(batch[-1][0])


def downgrade() -> None:
    for statement in drop_statements():
        op.execute(statement)
