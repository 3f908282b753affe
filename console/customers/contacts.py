"""The contact card: search, duplicates, merge with an undo record, notes, tags, typed attributes.

Who may see a contact follows the conversations: an operator sees a contact when they may see one of
its conversations (or it has none yet); merging needs every conversation of both contacts to be
visible, so nobody pulls another team's history into a card they can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console import phones
from lines.console.access import Scope
from lines.console.customers.models import AttributeDefinition, ContactMerge, ContactNote, DuplicateDismissal
from lines.console.models import Contact, ContactIdentity, Conversation, Direction, Message, utcnow
from lines.console.serialize import iso
from lines.console.touchpoint import touchpoint_key

MAX_SEARCH = 50
MAX_TAGS = 50
TAG_LENGTH = 64


class ContactError(Exception):
    """A refused contact action; `status` and `code` become the API error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_merged_away() -> ColumnElement[bool]:
    """Contacts that were not merged into another (a merged-away contact is an empty shell)."""
    return not_(
        exists().where(ContactMerge.merged_id == Contact.id, ContactMerge.undone_at.is_(None)).correlate(Contact)
    )


def contact_filter(scope: Scope) -> ColumnElement[bool]:
    return and_(not_merged_away(), scope.contact_filter())


async def visible_contact(session: AsyncSession, scope: Scope, contact_id: int, *, lock: bool = False) -> Contact:
    """The contact if `scope` may see it; 404 otherwise (no hint that it exists)."""
    stmt = select(Contact).where(Contact.id == contact_id, contact_filter(scope))
    if lock:
        stmt = stmt.with_for_update()
    contact = await session.scalar(stmt)
    if contact is None:
        raise ContactError(404, "not_found", f"contact {contact_id} not found")
    return contact


def normalise_phone(raw: str) -> str | None:
    """E.164, or None when `raw` is not a phone number (international: an operator types the country code)."""
    try:
        return phones.to_e164(raw)
    except ValueError:
        return None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(session: AsyncSession, scope: Scope, q: str, limit: int = MAX_SEARCH) -> Sequence[Contact]:
    """By name or email (substring, case-insensitive) or phone (E.164 digits); bound parameters only."""
    q = q.strip()
    terms: list[ColumnElement[bool]] = [
        func.lower(Contact.name).like(_like(q.lower()), escape="\\"),
        func.lower(Contact.email).like(_like(q.lower()), escape="\\"),
    ]
    digits = "".join(ch for ch in q if ch.isdigit())
    if len(digits) >= 5:
        terms.append(Contact.phone.like(_like(digits), escape="\\"))
    stmt = (
        select(Contact)
        .where(or_(*terms), contact_filter(scope))
        .order_by(Contact.updated_at.desc(), Contact.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


def touchpoint_dict(conversation: Conversation) -> dict[str, Any]:
    return {
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "inbox": conversation.inbox,
        "touchpoint": touchpoint_key(conversation.channel, conversation.inbox, conversation.source),
        "source": conversation.source or {},
        "status": conversation.status,
        "created_at": iso(conversation.created_at),
    }


def identity_dict(identity: ContactIdentity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "channel": identity.channel,
        "inbox": identity.inbox,
        "external_id": identity.external_id,
        "display": identity.display,
        "verified": identity.verified,
        "state": identity.state,
    }


def note_dict(note: ContactNote) -> dict[str, Any]:
    return {"id": note.id, "author_id": note.author_id, "text": note.text, "created_at": iso(note.created_at)}


async def card(session: AsyncSession, scope: Scope, contact_id: int) -> dict[str, Any]:
    """Everything the card beside a conversation shows: fields, identities, touchpoints (from the
    conversations I may see), notes, and the active merges into this contact."""
    contact = await visible_contact(session, scope, contact_id)
    identities = (
        await session.scalars(
            select(ContactIdentity).where(ContactIdentity.contact_id == contact.id).order_by(ContactIdentity.id)
        )
    ).all()
    conversations = (
        await session.scalars(
            select(Conversation)
            .where(Conversation.contact_id == contact.id, scope.conversation_filter())
            .order_by(Conversation.created_at, Conversation.id)
            .limit(200)
        )
    ).all()
    notes = (
        await session.scalars(
            select(ContactNote).where(ContactNote.contact_id == contact.id).order_by(ContactNote.id.desc()).limit(100)
        )
    ).all()
    merges = (
        await session.scalars(
            select(ContactMerge)
            .where(ContactMerge.kept_id == contact.id, ContactMerge.undone_at.is_(None))
            .order_by(ContactMerge.id)
        )
    ).all()
    return {
        "id": contact.id,
        **_fields(contact),
        "created_at": iso(contact.created_at),
        "identities": [identity_dict(i) for i in identities],
        "touchpoints": [touchpoint_dict(c) for c in conversations],
        "notes": [note_dict(n) for n in notes],
        "merges": [merge_dict(m) for m in merges],
        "duplicates": await duplicates_of(session, scope, contact),
    }


def contact_brief(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone}


def merge_dict(merge: ContactMerge) -> dict[str, Any]:
    return {
        "id": merge.id,
        "kept_id": merge.kept_id,
        "merged_id": merge.merged_id,
        "merged_by": merge.merged_by,
        "created_at": iso(merge.created_at),
        "undone_at": iso(merge.undone_at),
        "undone_by": merge.undone_by,
        "identity_ids": list(merge.snapshot.get("identity_ids", [])),
        "conversation_ids": list(merge.snapshot.get("conversation_ids", [])),
    }


# --- duplicates -----------------------------------------------------------------------------------


def _name_key(name: str) -> str:
    return " ".join(sorted(name.lower().split()))


def _close_names(a: str, b: str) -> bool:
    """Same words in any order, or one name is the other's first word ("Vera" vs "Vera Orlova")."""
    ka, kb = _name_key(a), _name_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    wa, wb = a.lower().split(), b.lower().split()
    return wa[0] == wb[0] and (len(wa) == 1 or len(wb) == 1)


def ordered_pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


async def dismissed_pairs(session: AsyncSession, ids: set[int]) -> set[tuple[int, int]]:
    """The dismissed pairs among `ids`."""
    if not ids:
        return set()
    rows = await session.execute(
        select(DuplicateDismissal.low_id, DuplicateDismissal.high_id).where(
            and_(DuplicateDismissal.low_id.in_(ids), DuplicateDismissal.high_id.in_(ids))
        )
    )
    return {(low, high) for low, high in rows.all()}


async def duplicates(session: AsyncSession, scope: Scope, limit: int = 100) -> list[dict[str, Any]]:
    """Pairs offered as one person: the same email, the same E.164 phone, or close names sharing an
    identity's external id (the same handle on two inboxes); a dismissed pair is left out. Oldest contact
    first in each pair."""
    pairs: dict[tuple[int, int], set[str]] = {}
    visible = contact_filter(scope)
    for column, reason in ((Contact.email, "email"), (Contact.phone, "phone")):
        value = func.lower(column) if reason == "email" else column
        dupes = (
            select(value.label("v"))
            .where(column.is_not(None), column != "", visible)
            .group_by(value)
            .having(func.count() > 1)
            .limit(limit)
        ).subquery()
        rows = (
            await session.execute(
                select(Contact.id, value).where(value.in_(select(dupes.c.v)), visible).order_by(Contact.id)
            )
        ).all()
        groups: dict[str, list[int]] = {}
        for contact_id, v in rows:
            groups.setdefault(v, []).append(contact_id)
        for group in groups.values():
            for other in group[1:]:
                pairs.setdefault((group[0], other), set()).add(reason)
    a, b = ContactIdentity.__table__.alias("a"), ContactIdentity.__table__.alias("b")
    shared = (
        await session.execute(
            select(a.c.contact_id, b.c.contact_id)
            .join(b, and_(a.c.external_id == b.c.external_id, a.c.contact_id < b.c.contact_id))
            .limit(limit * 4)
        )
    ).all()
    if shared:
        ids = {i for pair in shared for i in pair}
        contacts = {c.id: c for c in (await session.scalars(select(Contact).where(Contact.id.in_(ids), visible))).all()}
        for x, y in shared:
            if x in contacts and y in contacts and _close_names(contacts[x].name, contacts[y].name):
                pairs.setdefault((x, y), set()).add("name_and_identity")
    ids = {i for pair in pairs for i in pair}
    for dismissed in await dismissed_pairs(session, ids):
        pairs.pop(dismissed, None)
    if not pairs:
        return []
    contacts = {c.id: c for c in (await session.scalars(select(Contact).where(Contact.id.in_(ids)))).all()}
    return [
        {"contacts": [contact_brief(contacts[x]), contact_brief(contacts[y])], "reasons": sorted(reasons)}
        for (x, y), reasons in sorted(pairs.items())[:limit]
    ]


async def replied_from_other_addresses(session: AsyncSession, contact: Contact) -> list[int]:
    """Contacts whose reply to our message threaded into one of `contact`'s conversations (the
    inbox's `new_address` mark): most likely the same person writing from another address."""
    sender = Message.extra["new_address"]["contact_id"].as_integer()
    rows = await session.scalars(
        select(sender)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == contact.id, Message.direction == Direction.IN, sender.is_not(None))
        .distinct()
        .limit(50)
    )
    return [other for other in rows.all() if other is not None and other != contact.id]


async def duplicates_of(session: AsyncSession, scope: Scope, contact: Contact) -> list[dict[str, Any]]:
    """The contacts offered as the same person as `contact`, with the reasons (same rules as
    `duplicates`, looked up by this contact's email, phone and identities only, plus the senders of
    replies to our messages in this contact's conversations: `replied_in_conversation`)."""
    visible = contact_filter(scope)
    found: dict[int, set[str]] = {}
    if contact.email:
        rows = await session.scalars(
            select(Contact.id).where(
                func.lower(Contact.email) == contact.email.lower(), Contact.id != contact.id, visible
            )
        )
        for other in rows.all():
            found.setdefault(other, set()).add("email")
    if contact.phone:
        rows = await session.scalars(
            select(Contact.id).where(Contact.phone == contact.phone, Contact.id != contact.id, visible)
        )
        for other in rows.all():
            found.setdefault(other, set()).add("phone")
    handles = select(ContactIdentity.external_id).where(ContactIdentity.contact_id == contact.id)
    sharing = (
        await session.scalars(
            select(Contact)
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(ContactIdentity.external_id.in_(handles), Contact.id != contact.id, visible)
            .limit(50)
        )
    ).all()
    for other_contact in sharing:
        if _close_names(contact.name, other_contact.name):
            found.setdefault(other_contact.id, set()).add("name_and_identity")
    for other in await replied_from_other_addresses(session, contact):
        if await session.scalar(select(Contact.id).where(Contact.id == other, visible)) is not None:
            found.setdefault(other, set()).add("replied_in_conversation")
    for low, high in await dismissed_pairs(session, {contact.id, *found}):
        if contact.id in (low, high):
            found.pop(high if low == contact.id else low, None)
    if not found:
        return []
    others = (await session.scalars(select(Contact).where(Contact.id.in_(list(found))).order_by(Contact.id))).all()
    return [{"contact": contact_brief(o), "reasons": sorted(found[o.id])} for o in others]


# --- merge and unmerge ----------------------------------------------------------------------------

FIELDS = ("name", "email", "phone", "tags", "attributes", "blocked")


def _fields(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "tags": list(contact.tags or []),
        "attributes": dict(contact.attributes or {}),
        "blocked": contact.blocked,
    }


async def _all_visible(session: AsyncSession, scope: Scope, contact_id: int) -> bool:
    # Count both sides rather than negate the filter: NOT over a NULL assignee is NULL, not true.
    total = await session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.contact_id == contact_id)
    )
    visible = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.contact_id == contact_id, scope.conversation_filter())
    )
    return total == visible


async def do_merge(session: AsyncSession, scope: Scope, kept_id: int, other_id: int) -> ContactMerge:
    """Move `other`'s identities and conversations to `kept`, fill `kept`'s empty fields from it,
    and keep an undo record. The caller commits."""
    if kept_id == other_id:
        raise ContactError(422, "same_contact", "a contact cannot be merged with itself")
    first, second = sorted((kept_id, other_id))  # lock in id order: two opposite merges cannot deadlock
    locked = {first: await visible_contact(session, scope, first, lock=True)}
    locked[second] = await visible_contact(session, scope, second, lock=True)
    kept, other = locked[kept_id], locked[other_id]
    for contact in (kept, other):
        if not await _all_visible(session, scope, contact.id):
            raise ContactError(
                403, "forbidden", f"contact {contact.id} has conversations you may not see; ask a lead or an admin"
            )
    identity_ids = list(
        (await session.scalars(select(ContactIdentity.id).where(ContactIdentity.contact_id == other.id))).all()
    )
    conversation_ids = list(
        (await session.scalars(select(Conversation.id).where(Conversation.contact_id == other.id))).all()
    )
    merge = ContactMerge(
        kept_id=kept.id,
        merged_id=other.id,
        merged_by=scope.operator_id,
        snapshot={
            "identity_ids": identity_ids,
            "conversation_ids": conversation_ids,
            "merged": _fields(other),
            "kept": _fields(kept),
        },
    )
    await session.execute(
        update(ContactIdentity).where(ContactIdentity.id.in_(identity_ids)).values(contact_id=kept.id)
    )
    await session.execute(update(Conversation).where(Conversation.id.in_(conversation_ids)).values(contact_id=kept.id))
    kept.name = kept.name or other.name
    kept.email = kept.email or other.email
    kept.phone = kept.phone or other.phone
    kept.tags = list(dict.fromkeys([*(kept.tags or []), *(other.tags or [])]))[:MAX_TAGS]
    kept.attributes = {**(other.attributes or {}), **(kept.attributes or {})}
    kept.blocked = kept.blocked or other.blocked
    # The shell keeps nothing that would link new identities to it (the inbox links by phone).
    other.email = None
    other.phone = None
    session.add(merge)
    await session.flush()
    return merge


async def do_unmerge(session: AsyncSession, scope: Scope, merge_id: int) -> ContactMerge:
    """Put back what a merge moved: the merged contact's identities, conversations and fields, and
    the kept contact's fields as they were before. Identities or conversations that have moved on
    since (a later merge) stay where they are. The caller commits."""
    merge = await session.scalar(select(ContactMerge).where(ContactMerge.id == merge_id).with_for_update())
    if merge is None:
        raise ContactError(404, "not_found", f"merge {merge_id} not found")
    await visible_contact(session, scope, merge.kept_id, lock=True)
    if merge.undone_at is not None:
        raise ContactError(409, "already_undone", f"merge {merge_id} was already undone")
    if not await _all_visible(session, scope, merge.kept_id):
        raise ContactError(403, "forbidden", "the contact has conversations you may not see")
    later = await session.scalar(
        select(ContactMerge.id).where(
            ContactMerge.merged_id == merge.kept_id, ContactMerge.undone_at.is_(None), ContactMerge.id > merge.id
        )
    )
    if later is not None:
        raise ContactError(409, "merged_again", f"undo merge {later} first: the contact was merged into another")
    other = await session.get(Contact, merge.merged_id, with_for_update=True)
    kept = await session.get(Contact, merge.kept_id)
    assert other is not None and kept is not None
    snapshot = merge.snapshot
    await session.execute(
        update(ContactIdentity)
        .where(ContactIdentity.id.in_(snapshot.get("identity_ids", [])), ContactIdentity.contact_id == kept.id)
        .values(contact_id=other.id)
    )
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(snapshot.get("conversation_ids", [])), Conversation.contact_id == kept.id)
        .values(contact_id=other.id)
    )
    for name in FIELDS:
        if name in snapshot.get("merged", {}):
            setattr(other, name, snapshot["merged"][name])
        if name in snapshot.get("kept", {}):
            setattr(kept, name, snapshot["kept"][name])
    merge.undone_at = utcnow()
    merge.undone_by = scope.operator_id
    await session.flush()
    return merge


# --- notes, tags, attributes ----------------------------------------------------------------------


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = [" ".join(t.split()).lower()[:TAG_LENGTH] for t in tags]
    return list(dict.fromkeys(t for t in cleaned if t))[:MAX_TAGS]


def check_attribute(definition: AttributeDefinition, value: Any) -> Any:
    """The value in its stored form, or ValueError naming what was expected."""
    if value is None:
        return None
    if definition.type == "text":
        if not isinstance(value, str) or len(value) > 2000:
            raise ValueError("expected text of at most 2000 characters")
        return value
    if definition.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError("expected a number")
        return value
    if definition.type == "date":
        if not isinstance(value, str):
            raise ValueError("expected a date YYYY-MM-DD")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as err:
            raise ValueError("expected a date YYYY-MM-DD") from err
    if definition.type == "choice":
        if value not in definition.choices:
            raise ValueError(f"expected one of {', '.join(definition.choices)}")
        return value
    raise ValueError(f"unknown attribute type {definition.type}")


async def set_attributes(session: AsyncSession, contact: Contact, values: dict[str, Any]) -> None:
    """Typed attributes only: a key without a definition, or a value of the wrong type, is refused."""
    definitions = {
        d.key: d
        for d in (
            await session.scalars(select(AttributeDefinition).where(AttributeDefinition.key.in_(list(values))))
        ).all()
    }
    result = dict(contact.attributes or {})
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            raise ContactError(422, "unknown_attribute", f"attributes.{key}: no such attribute is defined")
        try:
            stored = check_attribute(definition, value)
        except ValueError as err:
            raise ContactError(422, "validation_error", f"attributes.{key}: {err}") from err
        if stored is None:
            result.pop(key, None)
        else:
            result[key] = stored
    contact.attributes = result
