"""Contacts: the customer card, search, duplicates, merge/unmerge, notes, tags, typed attributes,
canned responses, follow-ups and surveys.

Reads and writes go through `contact_filter` (a contact is visible through its conversations), so
another team's customer is a 404; filters reach SQL only as bound parameters (docs/reliability.md#conversation-acl).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lines.console.actions import visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Id, Out, Query, Route
from lines.console.customers import canned, contacts, merge_events
from lines.console.customers.contacts import ContactError
from lines.console.customers.followups import do_add_follow_up, do_finish_follow_up, follow_up_dict, list_follow_ups
from lines.console.customers.models import AttributeDefinition, CannedResponse, ContactNote, Signature, Survey
from lines.console.customers.surveys import survey_dict
from lines.console.keys import events_key, sessions_key
from lines.console.models import Team, utcnow

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


class CannedIn(Body):
    shortcut: Annotated[str, Field(pattern=canned.SHORTCUT.pattern)]
    title: Annotated[str, Field(max_length=200)] = ""
    text: Annotated[str, Field(min_length=1, max_length=20_000)]
    team_id: Id | None = None


class CannedPatch(Body):
    shortcut: Annotated[str, Field(pattern=canned.SHORTCUT.pattern)] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    text: Annotated[str, Field(min_length=1, max_length=20_000)] | None = None


class CannedQuery(Query):
    prefix: Annotated[str, Field(max_length=64)] = ""


class RenderQuery(Query):
    conversation_id: Annotated[int, Field(gt=0, le=2**63 - 1)]


class FollowUpIn(Body):
    due_at: AwareDatetime
    note: Annotated[str, Field(max_length=2000)] = ""


class FollowUpQuery(Query):
    overdue: bool = False


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


class CannedOut(Out):
    id: int
    shortcut: str
    title: str
    text: str
    scope: str
    team_id: int | None


class CannedList(Out):
    canned_responses: list[CannedOut]


class RenderedOut(Out):
    text: str


class FollowUpOut(Out):
    id: int
    conversation_id: int
    operator_id: int
    due_at: str
    note: str
    fired_at: str | None
    done_at: str | None
    overdue: bool


class FollowUpList(Out):
    follow_ups: list[FollowUpOut]


class SignatureIn(Body):
    text: Annotated[str, Field(max_length=2000)]


class SignaturesOut(Out):
    mine: str
    teams: dict[str, str]


class SurveyOut(Out):
    survey: dict[str, Any] | None


class DeletedOut(Out):
    ok: bool


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
                merge = await session.get(contacts.ContactMerge, body.merge_id)
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


async def list_canned(call: Call) -> dict[str, Any]:
    """Mine and my teams'; `prefix` filters by shortcut (the `/` picker)."""
    query = call.query(CannedQuery)
    async with call.app[sessions_key]() as session:
        found = await canned.list_for(session, call.ctx.scope, query.prefix)
    return {"canned_responses": [canned.canned_dict(c) for c in found]}


async def create_canned(call: Call) -> dict[str, Any]:
    """Personal without `team_id`; a team's with it (leads of that team and admins)."""
    body = call.body(CannedIn)
    scope = call.ctx.scope
    if body.team_id is not None and not (scope.is_admin or (scope.is_lead and body.team_id in scope.team_ids)):
        raise ApiError(403, "forbidden", "only leads of the team and admins add team responses")
    item = CannedResponse(
        shortcut=body.shortcut,
        title=body.title,
        text=body.text,
        owner_id=None if body.team_id else scope.operator_id,
        team_id=body.team_id,
        created_by=scope.operator_id,
    )
    async with call.app[sessions_key]() as session, session.begin():
        clash = await session.scalar(
            select(CannedResponse.id).where(
                CannedResponse.shortcut == body.shortcut,
                CannedResponse.team_id == body.team_id
                if body.team_id
                else CannedResponse.owner_id == scope.operator_id,
            )
        )
        if clash is not None:
            raise ApiError(409, "shortcut_exists", f"/{body.shortcut} exists")
        session.add(item)
    return canned.canned_dict(item)


async def _editable(session: Any, call: Call) -> CannedResponse:
    item = await session.get(CannedResponse, call.ids["id"])
    scope = call.ctx.scope
    if item is None or not (
        item.owner_id == scope.operator_id
        or (item.team_id is not None and (scope.is_admin or item.team_id in scope.team_ids))
    ):
        raise ApiError(404, "not_found", "canned response not found")
    if not canned.may_edit(scope, item):
        raise ApiError(403, "forbidden", "only leads of the team and admins change team responses")
    return item


async def update_canned(call: Call) -> dict[str, Any]:
    """Change shortcut, title or text."""
    body = call.body(CannedPatch)
    async with call.app[sessions_key]() as session, session.begin():
        item = await _editable(session, call)
        for name in ("shortcut", "title", "text"):
            value = getattr(body, name)
            if value is not None:
                setattr(item, name, value)
    return canned.canned_dict(item)


async def delete_canned(call: Call) -> dict[str, Any]:
    """Remove it."""
    async with call.app[sessions_key]() as session, session.begin():
        item = await _editable(session, call)
        await session.delete(item)
    return {"ok": True}


async def render_canned(call: Call) -> dict[str, Any]:
    """The text with `{{contact.name}}`, `{{conversation.number}}`, `{{operator.name}}`... filled in."""
    query = call.query(RenderQuery)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        item = await session.scalar(
            select(CannedResponse).where(CannedResponse.id == call.ids["id"], canned.usable_filter(scope))
        )
        if item is None:
            raise ApiError(404, "not_found", "canned response not found")
        conversation = await visible_conversation(session, scope, query.conversation_id)
        values = await canned.variables(session, conversation, scope.operator_id)
    return {"text": canned.fill(item, values)}


async def add_follow_up(call: Call) -> dict[str, Any]:
    """A reminder for me on the conversation at `due_at` (in the future)."""
    body = call.body(FollowUpIn)
    if body.due_at <= utcnow():
        raise ApiError(422, "validation_error", "due_at: must be in the future")
    async with call.app[sessions_key]() as session:
        item = await do_add_follow_up(session, call.ctx.scope, call.ids["id"], body.due_at, body.note)
    return follow_up_dict(item)


async def get_follow_ups(call: Call) -> dict[str, Any]:
    """My open follow-ups, soonest first; `overdue=true` lists only those past due."""
    query = call.query(FollowUpQuery)
    async with call.app[sessions_key]() as session:
        items = await list_follow_ups(session, call.ctx.scope, overdue=query.overdue)
    return {"follow_ups": [follow_up_dict(i) for i in items]}


async def finish_follow_up(call: Call) -> dict[str, Any]:
    """Mark my follow-up done."""
    async with call.app[sessions_key]() as session:
        item = await do_finish_follow_up(session, call.ctx.scope, call.ids["id"])
    return follow_up_dict(item)


async def get_survey(call: Call) -> dict[str, Any]:
    """The conversation's survey and its answer, if one was sent."""
    async with call.app[sessions_key]() as session:
        conversation = await visible_conversation(session, call.ctx.scope, call.ids["id"])
        survey = await session.scalar(select(Survey).where(Survey.conversation_id == conversation.id))
    return {"survey": survey_dict(survey) if survey else None}


async def get_signatures(call: Call) -> dict[str, Any]:
    """My signature and those of my teams (by team id); `{{signature}}` in a canned response is mine,
    or else the conversation's team's."""
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        rows = (
            await session.scalars(
                select(Signature).where(
                    (Signature.operator_id == scope.operator_id) | Signature.team_id.in_(scope.team_ids)
                )
            )
        ).all()
    return {
        "mine": next((s.text for s in rows if s.operator_id == scope.operator_id), ""),
        "teams": {str(s.team_id): s.text for s in rows if s.team_id is not None},
    }


async def _put_signature(call: Call, *, operator_id: int | None, team_id: int | None) -> None:
    text = call.body(SignatureIn).text.strip()
    async with call.app[sessions_key]() as session, session.begin():
        column = Signature.operator_id == operator_id if operator_id else Signature.team_id == team_id
        row = await session.scalar(select(Signature).where(column).with_for_update())
        if not text:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(Signature(operator_id=operator_id, team_id=team_id, text=text))
        else:
            row.text = text


async def put_my_signature(call: Call) -> dict[str, Any]:
    """Set my signature; empty text removes it."""
    await _put_signature(call, operator_id=call.ctx.scope.operator_id, team_id=None)
    return await get_signatures(call)


async def put_team_signature(call: Call) -> dict[str, Any]:
    """Set a team's signature (leads of the team, admins); empty text removes it."""
    scope = call.ctx.scope
    team_id = call.ids["id"]
    if not (scope.is_admin or (scope.is_lead and team_id in scope.team_ids)):
        raise ApiError(403, "forbidden", "only leads of the team and admins set its signature")
    async with call.app[sessions_key]() as session:
        if await session.get(Team, team_id) is None:
            raise ApiError(404, "not_found", f"team {team_id} not found")
    await _put_signature(call, operator_id=None, team_id=team_id)
    return await get_signatures(call)


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
    Route(
        "GET",
        "/api/v1/canned-responses",
        list_canned,
        "My and my teams' canned responses",
        CannedList,
        query=CannedQuery,
        tag=TAG,
    ),
    Route(
        "POST",
        "/api/v1/canned-responses",
        create_canned,
        "Add a canned response",
        CannedOut,
        body=CannedIn,
        status=201,
        errors=(403, 409),
        tag=TAG,
    ),
    Route(
        "PATCH",
        "/api/v1/canned-responses/{id}",
        update_canned,
        "Change a canned response",
        CannedOut,
        body=CannedPatch,
        errors=(403, 404),
        tag=TAG,
    ),
    Route(
        "DELETE",
        "/api/v1/canned-responses/{id}",
        delete_canned,
        "Delete a canned response",
        DeletedOut,
        errors=(403, 404),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/canned-responses/{id}/render",
        render_canned,
        "A canned response filled in for a conversation",
        RenderedOut,
        query=RenderQuery,
        errors=(404,),
        tag=TAG,
    ),
    Route(
        "POST",
        "/api/v1/conversations/{id}/follow-ups",
        add_follow_up,
        "Remind me about a conversation",
        FollowUpOut,
        body=FollowUpIn,
        status=201,
        errors=(404,),
        tag=TAG,
    ),
    Route(
        "GET", "/api/v1/follow-ups", get_follow_ups, "My open follow-ups", FollowUpList, query=FollowUpQuery, tag=TAG
    ),
    Route(
        "POST",
        "/api/v1/follow-ups/{id}/done",
        finish_follow_up,
        "Mark a follow-up done",
        FollowUpOut,
        errors=(404,),
        tag=TAG,
    ),
    Route("GET", "/api/v1/signatures", get_signatures, "My and my teams' signatures", SignaturesOut, tag=TAG),
    Route(
        "PUT", "/api/v1/signatures/mine", put_my_signature, "Set my signature", SignaturesOut, body=SignatureIn, tag=TAG
    ),
    Route(
        "PUT",
        "/api/v1/teams/{id}/signature",
        put_team_signature,
        "Set a team's signature (leads of the team, admins)",
        SignaturesOut,
        body=SignatureIn,
        errors=(403, 404),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/conversations/{id}/survey",
        get_survey,
        "The conversation's CSAT/NPS survey",
        SurveyOut,
        errors=(404,),
        tag=TAG,
    ),
]
