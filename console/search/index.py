"""The full-text tables and the one write path that keeps them current.

Three tables, one row per indexed thing: `search_messages` (a message's text; customer messages,
replies and notes, not system lines), `search_subjects` (a conversation's subject) and
`search_contacts` (a contact's name, email and phone). They are not models: SQLite keeps them as
FTS5 tables of Snowball stems (FTS5 has no Russian stemmer, so stems are indexed and queried),
PostgreSQL as `tsvector` columns built with the `russian` and `english` configurations under a GIN
index. Whoever writes a message, edits one, or changes a contact or a subject does it through an
ORM session made by `lines.console.db.session_maker`, whose flush updates these rows in the same
transaction (`IndexingSession`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, bindparam, column, delete, event, func, insert, inspect, table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from lines.console.models import Contact, Conversation, Direction, Message
from lines.console.words import stems

INDEXED_DIRECTIONS = frozenset({Direction.IN, Direction.OUT, Direction.NOTE})
MAX_INDEXED_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class SearchTable:
    name: str
    key: str  # the PostgreSQL key column; on SQLite the FTS5 rowid
    refers: str  # the table whose row it indexes


MESSAGES = SearchTable("search_messages", "message_id", "messages")
SUBJECTS = SearchTable("search_subjects", "conversation_id", "conversations")
CONTACTS = SearchTable("search_contacts", "contact_id", "contacts")
TABLES = (MESSAGES, SUBJECTS, CONTACTS)


def is_search_table(name: str | None) -> bool:
    """The search tables and SQLite's FTS5 shadow tables behind them (kept out of model comparisons)."""
    return bool(name) and str(name).startswith("search_")


def create_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {t.name} USING fts5(terms, tokenize='unicode61 remove_diacritics 0')"
            for t in TABLES
        ]
    statements = []
    for t in TABLES:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {t.name} ("
            f"{t.key} BIGINT PRIMARY KEY REFERENCES {t.refers} (id) ON DELETE CASCADE, "
            "document TSVECTOR NOT NULL)"
        )
        statements.append(f"CREATE INDEX IF NOT EXISTS ix_{t.name}_document ON {t.name} USING gin (document)")
    return statements


def drop_statements() -> list[str]:
    return [f"DROP TABLE IF EXISTS {t.name}" for t in TABLES]


def attach(metadata: MetaData) -> None:
    """`metadata.create_all()` / `drop_all()` make and remove the search tables too (tests, `lines demo`)."""

    def create(_target: Any, connection: Connection, **_kw: Any) -> None:
        for statement in create_statements(connection.dialect.name):
            connection.execute(text(statement))

    def drop(_target: Any, connection: Connection, **_kw: Any) -> None:
        for statement in drop_statements():
            connection.execute(text(statement))

    event.listen(metadata, "after_create", create)
    event.listen(metadata, "before_drop", drop)


def message_text(message: Message) -> str:
    return message.text if message.direction in INDEXED_DIRECTIONS else ""


def contact_text(contact: Contact) -> str:
    return " ".join(filter(None, (contact.name, contact.email, contact.phone)))


def terms(value: str) -> str:
    """What SQLite indexes: the stems, space-separated."""
    return " ".join(stems(value[:MAX_INDEXED_CHARS]))


def document(value: Any) -> Any:
    """PostgreSQL: the tsvector of a text, in the `russian` and `english` configurations."""
    return func.to_tsvector("russian", value).op("||")(func.to_tsvector("english", value))


def write(
    connection: Connection, search: SearchTable, rows: Sequence[tuple[int, str]], fresh: frozenset[int] = frozenset()
) -> None:
    """Replace the entries of `rows` ((id, text)); an empty text removes the entry. Ids in `fresh` were
    inserted by this flush, so they have no entry to remove."""
    rows = [(key, value) for key, value in rows if key not in fresh or value.strip()]
    if not rows:
        return
    kept = [(key, value[:MAX_INDEXED_CHARS]) for key, value in rows if value.strip()]
    if connection.dialect.name == "sqlite":
        fts = table(search.name, column("rowid"), column("terms"))
        stale = [{"key": k} for k, _ in rows if k not in fresh]
        if stale:
            connection.execute(delete(fts).where(fts.c.rowid == bindparam("key")), stale)
        if kept:
            connection.execute(insert(fts), [{"rowid": k, "terms": terms(v)} for k, v in kept])
        return
    pg = table(search.name, column(search.key), column("document"))
    gone = [{"key": key} for key, value in rows if not value.strip()]
    if gone:
        connection.execute(delete(pg).where(pg.c[search.key] == bindparam("key")), gone)
    if kept:
        stmt = pg_insert(pg).values({search.key: bindparam("key"), "document": document(bindparam("value"))})
        stmt = stmt.on_conflict_do_update(index_elements=[search.key], set_={"document": stmt.excluded.document})
        connection.execute(stmt, [{"key": k, "value": v} for k, v in kept])


def _changed(obj: Any, names: Iterable[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


class IndexingSession(Session):
    """The ORM session of the app: each flush brings the search tables up to date (see module doc)."""


@event.listens_for(IndexingSession, "after_flush")
def _index_flush(session: Session, _flush: UOWTransaction) -> None:
    messages: dict[int, str] = {}
    subjects: dict[int, str] = {}
    contacts: dict[int, str] = {}
    for obj in session.new:
        if isinstance(obj, Message):
            messages[obj.id] = message_text(obj)
        elif isinstance(obj, Conversation):
            subjects[obj.id] = obj.subject or ""
        elif isinstance(obj, Contact):
            contacts[obj.id] = contact_text(obj)
    for obj in session.dirty:
        if isinstance(obj, Message) and _changed(obj, ("text", "direction")):
            messages[obj.id] = message_text(obj)
        elif isinstance(obj, Conversation) and _changed(obj, ("subject",)):
            subjects[obj.id] = obj.subject or ""
        elif isinstance(obj, Contact) and _changed(obj, ("name", "email", "phone")):
            contacts[obj.id] = contact_text(obj)
    for obj in session.deleted:
        if isinstance(obj, Message):
            messages[obj.id] = ""
        elif isinstance(obj, Conversation):
            subjects[obj.id] = ""
        elif isinstance(obj, Contact):
            contacts[obj.id] = ""
    if not (messages or subjects or contacts):
        return
    connection = session.connection()
    write(connection, MESSAGES, list(messages.items()), _inserted(session, Message))
    write(connection, SUBJECTS, list(subjects.items()), _inserted(session, Conversation))
    write(connection, CONTACTS, list(contacts.items()), _inserted(session, Contact))


def _inserted(session: Session, kind: type[Message | Conversation | Contact]) -> frozenset[int]:
    """The ids of the rows of `kind` this flush inserted."""
    return frozenset(obj.id for obj in session.new if isinstance(obj, kind))
