"""Contacts: the customer card, search, duplicates, merge/unmerge, notes, tags and typed attributes.

Reads and writes go through `contact_filter` (a contact is visible through its conversations), so
another team's customer is a 404; filters reach SQL only as bound parameters (docs/reliability.md#conversation-acl).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Id, Out, Query, Route
from lines.console.customers import contacts, merge_events
from lines.console.customers.contacts import ContactError
from lines.console.customers.models import AttributeDefinition, ContactMerge, ContactNote
from lines.console.keys import events_key, sessions_key

ATTRIBUTE_KEY = r"^[a-z][a-z0-9_]{0,63}$"


def _refuse(err: ContactError) -> ApiError:
    return ApiError(err.status, err.code, err.message)


class SearchQuery(Query):
    q: Annotated[str, Field(min_length=1, max_length=200)]
    limit: Annotated[int, Field(ge=1, le=contacts.MAX_SEARCH)] = 20


class ContactPatch(Body):
    name: Annotated[str, Field(max_length=300)] | None = None
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    tags: (
        Annotated[list[Annotated[str, Field(max_length=contacts.TAG_LENGTH)]], Field(max_length=contacts.MAX_TAGS)]
        | None
    ) = None
    attributes: Annotated[dict[str, Any], Field(max_length=50)] | None = None


class MergeIn(Body):
    other_id: Id


class UnmergeIn(Body):
    merge_id: Id


class NoteIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class AttributeIn(Body):
    key: Annotated[str, Field(pattern=ATTRIBUTE_KEY)]
    label: Annotated[str, Field(max_length=200)] = ""
    type: Literal["text", "number", "date", "choice"]
    choices: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)] = []

    @field_validator("choices")
    @classmethod
    def _unique(cls, choices: list[str]) -> list[str]:
        if len(set(choices)) != len(choices):
            raise ValueError("choices must be unique")
        return choices


class CardOut(Out):
    id: int
    name: str
    email: str | None
    phone: str | None
    tags: list[str]
    attributes: dict[str, Any]
    blocked: bool
    created_at: str | None
    identities: list[dict[str, Any]]
    touchpoints: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    merges: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]


class ContactSearchOut(Out):
    contacts: list[dict[str, Any]]


class DuplicatesOut(Out):
    duplicates: list[dict[str, Any]]


class MergeOut(Out):
    merge: dict[str, Any]
    contact: CardOut


class NoteOut(Out):
    id: int
    author_id: int | None
    text: str
    created_at: str | None


class AttributeOut(Out):
    key: str
    label: str
    type: str
    choices: list[str]


class AttributeList(Out):
    attributes: list[AttributeOut]


async def search_contacts(call: Call) -> dict[str, Any]:
    """By name or email (substring, any case) or phone digits; only contacts I may see."""
    query = call.query(SearchQuery)
    async with call.app[sessions_key]() as session:
        found = await contacts.search(session, call.ctx.scope, query.q, query.limit)
    return {"contacts": [contacts.contact_brief(c) for c in found]}


async def get_contact(call: Call) -> dict[str, Any]:
    """The card: fields, identities on every channel, touchpoints, notes, active merges."""
    async with call.app[sessions_key]() as session:
        try:
            return await contacts.card(session, call.ctx.scope, call.ids["id"])
        except ContactError as err:
            raise _refuse(err) from err


async def update_contact(call: Call) -> dict[str, Any]:
    """Change name, email, phone (stored as E.164), tags (replaced) or typed attributes (merged; null
    removes one)."""
    body = call.body(ContactPatch)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                contact = await contacts.visible_contact(session, scope, call.ids["id"], lock=True)
                fields = body.model_fields_set
                if "name" in fields:
                    contact.name = (body.name or "").strip()
                if "email" in fields:
                    contact.email = body.email.strip().lower() if body.email else None
                if "phone" in fields:
                    phone = contacts.normalise_phone(body.phone) if body.phone else None
                    if body.phone and phone is None:
                        raise ContactError(422, "validation_error", "phone: not a phone number in E.164 form")
                    contact.phone = phone
                if body.tags is not None:
                    contact.tags = contacts.clean_tags(body.tags)
                if body.attributes is not None:
                    await contacts.set_attributes(session, contact, body.attributes)
            return await contacts.card(session, scope, call.ids["id"])
        except ContactError as err:
            raise _refuse(err) from err


async def merge_contact(call: Call) -> dict[str, Any]:
    """Merge `other_id` into this contact: its identities and conversations move here, empty fields
    are filled from it, and an undo record keeps who merged what. Needs every conversation of both
    contacts to be visible to me (403 otherwise); merging a contact with itself is a 422."""
    body = call.body(MergeIn)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                merge = await contacts.do_merge(session, scope, call.ids["id"], body.other_id)
            await merge_events.announce(session, call.app[events_key], merge, undone=False)
            return {"merge": contacts.merge_dict(merge), "contact": await contacts.card(session, scope, merge.kept_id)}
        except ContactError as err:
            raise _refuse(err) from err


async def unmerge_contact(call: Call) -> dict[str, Any]:
    """Undo a merge into this contact: identities, conversations and fields go back."""
    body = call.body(UnmergeIn)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                merge = await session.get(ContactMerge, body.merge_id)
                if merge is None or merge.kept_id != call.ids["id"]:
                    raise ContactError(404, "not_found", f"merge {body.merge_id} not found on this contact")
                merge = await contacts.do_unmerge(session, scope, body.merge_id)
            await merge_events.announce(session, call.app[events_key], merge, undone=True)
            return {"merge": contacts.merge_dict(merge), "contact": await contacts.card(session, scope, merge.kept_id)}
        except ContactError as err:
            raise _refuse(err) from err


async def list_duplicates(call: Call) -> dict[str, Any]:
    """Pairs that look like one person: same email, same E.164 phone, or close names sharing an
    identity's external id."""
    async with call.app[sessions_key]() as session:
        return {"duplicates": await contacts.duplicates(session, call.ctx.scope)}


async def add_note(call: Call) -> dict[str, Any]:
    """A private note on the contact, shown on the card to everyone who may see the contact."""
    body = call.body(NoteIn)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                contact = await contacts.visible_contact(session, scope, call.ids["id"])
                note = ContactNote(contact_id=contact.id, author_id=scope.operator_id, text=body.text.strip())
                session.add(note)
        except ContactError as err:
            raise _refuse(err) from err
    return contacts.note_dict(note)


def _attribute_dict(d: AttributeDefinition) -> dict[str, Any]:
    return {"key": d.key, "label": d.label, "type": d.type, "choices": list(d.choices or [])}


async def list_attributes(call: Call) -> dict[str, Any]:
    """The typed custom attributes contacts may carry."""
    async with call.app[sessions_key]() as session:
        defs = (await session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.key))).all()
    return {"attributes": [_attribute_dict(d) for d in defs]}


async def create_attribute(call: Call) -> dict[str, Any]:
    """Admins define attributes; `choice` needs `choices`."""
    if not call.ctx.scope.is_admin:
        raise ApiError(403, "forbidden", "only admins define attributes")
    body = call.body(AttributeIn)
    if (body.type == "choice") != bool(body.choices):
        raise ApiError(422, "validation_error", "choices: required for type choice and only for it")
    definition = AttributeDefinition(key=body.key, label=body.label or body.key, type=body.type, choices=body.choices)
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                if await session.get(AttributeDefinition, body.key) is not None:
                    raise ApiError(409, "attribute_exists", f"attribute {body.key!r} exists")
                session.add(definition)
        except IntegrityError as err:
            raise ApiError(409, "attribute_exists", f"attribute {body.key!r} exists") from err
    return _attribute_dict(definition)


ONE = "/api/v1/contacts/{id}"
TAG = "contacts"
ROUTES = [
    Route(
        "GET",
        "/api/v1/contacts",
        search_contacts,
        "Search contacts by name, email or phone",
        ContactSearchOut,
        query=SearchQuery,
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/contacts/duplicates",
        list_duplicates,
        "Contacts that look like the same person",
        DuplicatesOut,
        tag=TAG,
    ),
    Route("GET", ONE, get_contact, "The customer card", CardOut, errors=(404,), tag=TAG),
    Route(
        "PATCH",
        ONE,
        update_contact,
        "Edit a contact's fields, tags and attributes",
        CardOut,
        body=ContactPatch,
        errors=(404,),
        tag=TAG,
    ),
    Route(
        "POST",
        f"{ONE}/merge",
        merge_contact,
        "Merge another contact into this one",
        MergeOut,
        body=MergeIn,
        errors=(403, 404, 409),
        tag=TAG,
    ),
    Route(
        "POST",
        f"{ONE}/unmerge",
        unmerge_contact,
        "Undo a merge into this contact",
        MergeOut,
        body=UnmergeIn,
        errors=(403, 404, 409),
        tag=TAG,
    ),
    Route(
        "POST",
        f"{ONE}/notes",
        add_note,
        "Add a note to the contact",
        NoteOut,
        body=NoteIn,
        status=201,
        errors=(404,),
        tag=TAG,
    ),
    Route("GET", "/api/v1/contact-attributes", list_attributes, "Typed custom attributes", AttributeList, tag=TAG),
    Route(
        "POST",
        "/api/v1/contact-attributes",
        create_attribute,
        "Define a custom attribute (admins)",
        AttributeOut,
        body=AttributeIn,
        status=201,
        errors=(403, 409),
        tag=TAG,
    ),
]
