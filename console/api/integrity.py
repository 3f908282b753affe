"""A database integrity error as an API answer: 422 or 409 with a code, never a 500.

Handlers check what they can (a referenced id that does not exist is a 422 naming the field); this is
the net under them, for a check that was forgotten or a race between check and write:
- a foreign key that points nowhere: 422 `invalid_reference`;
- a unique key already taken: 409 `already_exists`;
- a NOT NULL or CHECK constraint: 422 `constraint_violation`.
The field is named when the database says which (PostgreSQL always does; SQLite does for unique and
NOT NULL keys, not for foreign keys).
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

FOREIGN_KEY, UNIQUE, NOT_NULL = "23503", "23505", "23502"
_SQLITE_KINDS = {
    "SQLITE_CONSTRAINT_FOREIGNKEY": FOREIGN_KEY,
    "SQLITE_CONSTRAINT_UNIQUE": UNIQUE,
    "SQLITE_CONSTRAINT_PRIMARYKEY": UNIQUE,
    "SQLITE_CONSTRAINT_NOTNULL": NOT_NULL,
}
_PG_KEY = re.compile(r"Key \(([^)]+)\)=")
_SQLITE_COLUMNS = re.compile(r"constraint failed: ([\w.]+(?:, [\w.]+)*)")


def _kind_and_field(err: IntegrityError) -> tuple[str, str | None]:
    orig = err.orig
    cause = getattr(orig, "__cause__", None)  # asyncpg's own exception under SQLAlchemy's adapter
    sqlstate = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    if sqlstate:
        detail = getattr(cause, "detail", None) or str(orig)
        column = getattr(cause, "column_name", None)
        match = _PG_KEY.search(detail or "")
        return str(sqlstate), column or (match.group(1) if match else None)
    kind = _SQLITE_KINDS.get(getattr(orig, "sqlite_errorname", ""), "")
    text = str(orig)
    if not kind:
        kind = FOREIGN_KEY if "FOREIGN KEY" in text else UNIQUE if "UNIQUE" in text else NOT_NULL
    match = _SQLITE_COLUMNS.search(text)
    field = ", ".join(c.rsplit(".", 1)[-1] for c in match.group(1).split(", ")) if match else None
    return kind, field


def integrity_answer(err: IntegrityError) -> tuple[int, str, str]:
    """(status, code, message) for the API's error shape."""
    kind, field = _kind_and_field(err)
    named = f" ({field})" if field else ""
    log.warning("integrity error answered as a client error: %s%s", kind, named)
    if kind == FOREIGN_KEY:
        return 422, "invalid_reference", f"a referenced record does not exist{named}"
    if kind == UNIQUE:
        return 409, "already_exists", f"a record with this key already exists{named}"
    return 422, "constraint_violation", f"a value breaks a rule of the store{named}"
