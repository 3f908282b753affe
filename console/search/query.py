"""Finding: a query's words matched by their stems, only in conversations the operator may see.

Results come in two lists. `conversations` (first page only): the conversation whose number was
typed (`#123` or `123`), those whose subject matches, and those of contacts whose name, email or
phone matches. `messages`: matching messages, newest first, paged by keyset (`before` = the last
message id of the previous page). Snippets are HTML-escaped text in which only the matched words
are wrapped in `<mark>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, Select, column, func, or_, select, table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from lines.console.access import Scope
from lines.console.models import Contact, Conversation, Message
from lines.console.search.index import CONTACTS, MESSAGES, SUBJECTS, SearchTable
from lines.console.words import WORD, spans, stem

MAX_QUERY_CHARS = 200
MAX_WORDS = 12
PREFIX_MIN_CHARS = 3  # the last word also matches as a prefix (as-you-type), once it is this long
CONVERSATION_HITS = 10
SNIPPET_CHARS = 160
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
NUMBER = re.compile(r"#?(\d{1,18})")


class QueryError(ValueError):
    """A query that cannot be searched; the message says why."""


@dataclass(frozen=True, slots=True)
class Terms:
    text: str  # the query as typed, lower-cased
    words: tuple[str, ...]
    stems: tuple[str, ...]
    prefix: bool  # the last word matches as a prefix too
    number: int | None  # `#123` or `123`: a conversation number
    digits: str  # the query's digits, for phone numbers written any way

    def matches(self, word_stem: str) -> bool:
        if word_stem in self.stems:
            return True
        return self.prefix and word_stem.startswith(self.stems[-1])


def parse(q: str) -> Terms:
    q = q.strip()
    if not q:
        raise QueryError("q: type something to search for")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(f"q: at most {MAX_QUERY_CHARS} characters")
    words = tuple(m.group() for m in WORD.finditer(q))[:MAX_WORDS]
    if not words:
        raise QueryError("q: no letters or digits to search for")
    number = NUMBER.fullmatch(q)
    digits = "".join(ch for ch in q if ch.isdigit())
    last = words[-1]
    return Terms(
        text=q.lower(),
        words=words,
        stems=tuple(stem(w) for w in words),
        prefix=len(last) >= PREFIX_MIN_CHARS and not last.isdigit(),
        number=int(number.group(1)) if number else None,
        digits=digits[-10:] if len(digits) >= 5 and not re.search(r"[^\d\s+()#.-]", q) else "",
    )


def _matching(search: SearchTable, terms: Terms, dialect: str) -> tuple[Any, ColumnElement[bool]]:
    """(the indexed row's id column, the match condition) for one search table."""
    if dialect == "sqlite":
        fts = table(search.name, column("rowid"), column("terms"))
        parts = [f'"{s}"' for s in terms.stems]
        if terms.prefix:
            parts[-1] += "*"
        return fts.c.rowid, fts.c.terms.op("MATCH")(" ".join(parts))
    pg = table(search.name, column(search.key), column("document"))
    query: Any = None
    for i, word in enumerate(terms.words):
        token = word.lower() + (":*" if terms.prefix and i == len(terms.words) - 1 else "")
        either = func.to_tsquery("russian", token).op("||")(func.to_tsquery("english", token))
        query = either if query is None else query.op("&&")(either)
    return pg.c[search.key], pg.c.document.op("@@")(query)


def _joined(stmt: SelectT, search: SearchTable, target: Any, terms: Terms, dialect: str) -> SelectT:
    key, condition = _matching(search, terms, dialect)
    return stmt.join(key.table, key == target).where(condition)


async def find_ids(conn: AsyncConnection | AsyncSession, kind: str, q: str) -> list[int]:
    """Ids of the messages, conversations (by subject) or contacts matching `q`, newest first (no access rules)."""
    search, target = {
        "message": (MESSAGES, Message.id),
        "subject": (SUBJECTS, Conversation.id),
        "contact": (CONTACTS, Contact.id),
    }[kind]
    dialect = conn.get_bind().dialect.name if isinstance(conn, AsyncSession) else conn.dialect.name
    stmt = _joined(select(target), search, target, parse(q), dialect).order_by(target.desc())
    return [int(i) for i in (await conn.scalars(stmt)).all()]


def highlight(value: str, terms: Terms, limit: int = SNIPPET_CHARS) -> Markup:
    """`value` escaped, its matching words in `<mark>`, cut to about `limit` characters around the first."""
    found = [(a, b) for a, b, s in spans(value) if terms.matches(s)]
    start, end = 0, len(value)
    if len(value) > limit:
        first = found[0][0] if found else 0
        start = max(0, min(first - limit // 4, len(value) - limit))
        end = start + limit
    out = [Markup("…")] if start > 0 else []
    pos = start
    for a, b in found:
        if a < start or b > end:
            continue
        out += [escape(value[pos:a]), Markup("<mark>"), escape(value[a:b]), Markup("</mark>")]
        pos = b
    out.append(escape(value[pos:end]))
    if end < len(value):
        out.append(Markup("…"))
    return Markup("").join(out)


def _contact_dict(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone}


def _conversation_hit(conversation: Conversation, contact: Contact, match: str, snippet: Markup) -> dict[str, Any]:
    return {
        "conversation_id": conversation.id,
        "match": match,
        "snippet": str(snippet),
        "subject": conversation.subject,
        "status": conversation.status,
        "channel": conversation.channel,
        "inbox": conversation.inbox,
        "contact": _contact_dict(contact),
        "last_message_at": conversation.last_message_at.isoformat(),
        "url": f"/conversations/{conversation.id}",
    }


async def _conversation_hits(session: AsyncSession, scope: Scope, terms: Terms, dialect: str) -> list[dict[str, Any]]:
    base = (
        select(Conversation, Contact)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(scope.conversation_filter())
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(CONVERSATION_HITS)
    )
    hits: dict[int, dict[str, Any]] = {}
    if terms.number is not None:
        for conversation, contact in (await session.execute(base.where(Conversation.id == terms.number))).all():
            hits[conversation.id] = _conversation_hit(
                conversation, contact, "number", Markup("<mark>#{}</mark>").format(conversation.id)
            )
    subject_rows = await session.execute(_joined(base, SUBJECTS, Conversation.id, terms, dialect))
    for conversation, contact in subject_rows.all():
        hits.setdefault(
            conversation.id, _conversation_hit(conversation, contact, "subject", highlight(conversation.subject, terms))
        )
    key, condition = _matching(CONTACTS, terms, dialect)
    who: list[ColumnElement[bool]] = [Contact.id.in_(select(key).where(condition))]
    if len(terms.text) >= PREFIX_MIN_CHARS and terms.text.isascii():
        who.append(func.lower(Contact.email).contains(terms.text, autoescape=True))
    if terms.digits:
        who.append(Contact.phone.contains(terms.digits, autoescape=True))
    for conversation, contact in (await session.execute(base.where(or_(*who)))).all():
        label = contact_label(contact)
        snippet = highlight(label, terms)
        if terms.digits and "<mark>" not in snippet:
            snippet = Markup("<mark>{}</mark>").format(label)
        hits.setdefault(conversation.id, _conversation_hit(conversation, contact, "contact", snippet))
    return list(hits.values())


def contact_label(contact: Contact) -> str:
    return " · ".join(filter(None, (contact.name, contact.email, contact.phone)))


async def search(
    session: AsyncSession, scope: Scope, q: str, before: int | None = None, limit: int = 20
) -> dict[str, Any]:
    """The search result for `scope` (raises `QueryError` for a query that cannot be searched)."""
    terms = parse(q)
    dialect = session.get_bind().dialect.name
    key, condition = _matching(MESSAGES, terms, dialect)
    stmt = (
        select(Message, Conversation, Contact)
        .join(key.table, key == Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(condition, scope.conversation_filter())
        .order_by(key.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(key < before)
    rows = (await session.execute(stmt)).all()
    messages = [
        {
            "message_id": message.id,
            "conversation_id": conversation.id,
            "snippet": str(highlight(message.text, terms)),
            "direction": message.direction,
            "author_kind": message.author_kind,
            "author_name": message.author_name,
            "created_at": message.created_at.isoformat(),
            "subject": conversation.subject,
            "channel": conversation.channel,
            "inbox": conversation.inbox,
            "contact": _contact_dict(contact),
            "url": f"/conversations/{conversation.id}#message-{message.id}",
        }
        for message, conversation, contact in rows[:limit]
    ]
    return {
        "query": q.strip(),
        "conversations": await _conversation_hits(session, scope, terms, dialect) if before is None else [],
        "messages": messages,
        "next_before": messages[-1]["message_id"] if len(rows) > limit else None,
    }


__all__ = ["QueryError", "Terms", "contact_label", "find_ids", "highlight", "parse", "search"]
