"""Outbound-initiated conversations: an operator writes first (an SMS to any valid number).

`POST /api/v1/conversations` `{channel, inbox, to, text, subject?}`: the channel turns `to` into an
identity (`BaseChannel.resolve_recipient`; SMS normalises it to E.164), the contact with that
identity, or else with that phone, is found or created, a new open conversation assigned to the
caller is opened in the channel's team, and `text` is queued through the outbox like any reply. The
customer's answer threads into this conversation (it is their latest unresolved one there).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from lines.console.access import in_team
from lines.console.actions import do_reply, load_operator
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Out, Route
from lines.console.api.schemas import ConversationOut, MessageOut
from lines.console.changes import Assigned
from lines.console.events import Audience
from lines.console.inbox import clean_text, load_conversation, resolve_contact
from lines.console.keys import (
    channels_key,
    events_key,
    outbox_key,
    reply_signature_key,
    sessions_key,
    settings_key,
)
from lines.console.models import Contact, Conversation, Status, Team
from lines.console.serialize import conversation_dict


class OutreachIn(Body):
    channel: Annotated[str, Field(min_length=1, max_length=40)]
    inbox: Annotated[str, Field(min_length=1, max_length=100)]
    to: Annotated[str, Field(min_length=1, max_length=320, description="the address on that channel (SMS: a phone)")]
    text: Annotated[str, Field(min_length=1, max_length=20_000)]
    subject: Annotated[str, Field(max_length=500)] = ""


class OutreachOut(Out):
    conversation: ConversationOut
    message: MessageOut


async def start_conversation(call: Call) -> dict[str, Any]:
    """422 `invalid_recipient` names what is wrong with `to` (e.g. not a valid phone number);
    422 `unknown_channel` when no such channel is configured; 403 `not_in_team` when the caller is not
    a member of the channel's team; 403 `customer_of_another_team` when `to` belongs to a customer
    the caller may not see."""
    body = call.body(OutreachIn)
    if not clean_text(body.text.strip()):
        raise ApiError(422, "empty_text", "text must not be empty")
    app = call.app
    adapter = app[channels_key].get((body.channel, body.inbox))
    if adapter is None:
        raise ApiError(422, "unknown_channel", f"no channel {body.channel}/{body.inbox} is configured")
    try:
        recipient = await adapter.resolve_recipient(body.to)
    except ValueError as err:
        raise ApiError(422, "invalid_recipient", str(err)) from err
    scope = call.ctx.scope
    events = app[events_key]
    team_name = app[settings_key].channel_teams().get((body.channel, body.inbox))
    async with app[sessions_key]() as session:
        async with session.begin():
            team_id = None
            if team_name:
                team_id = await session.scalar(select(Team.id).where(Team.name == team_name))
            caller = await load_operator(session, scope.operator_id)
            if caller is None or not in_team(caller, team_id):
                raise ApiError(
                    403, "not_in_team", f"only members of team {team_name} start conversations on this channel"
                )
            contact, identity = await resolve_contact(session, body.channel, body.inbox, recipient)
            visible = await session.scalar(select(Contact.id).where(Contact.id == contact.id, scope.contact_filter()))
            if visible is None:  # raising rolls back the identity resolve_contact may have added
                raise ApiError(403, "customer_of_another_team", "this address belongs to another team's customer")
            conversation = Conversation(
                contact_id=contact.id,
                identity_id=identity.id,
                channel=body.channel,
                inbox=body.inbox,
                status=Status.OPEN,
                team_id=team_id,
                assignee_id=scope.operator_id,
                subject=clean_text(body.subject, 500),
                source={"channel": body.channel, "outreach": True, "by_operator_id": scope.operator_id},
            )
            session.add(conversation)
            await session.flush()
            conversation_id = conversation.id
        created = await load_conversation(session, conversation_id)
        assert created is not None
        await events.send("conversation.created", conversation_dict(created), Audience.of(created))
        message = await do_reply(
            session,
            events,
            scope,
            conversation_id,
            body.text,
            False,
            app[outbox_key].notify,
            app.get(reply_signature_key),
        )
        fresh = await load_conversation(session, conversation_id)
        assert fresh is not None
    await events.change(
        Assigned(
            conversation_id=conversation_id,
            operator_id=scope.operator_id,
            previous_operator_id=None,
            by_operator_id=scope.operator_id,
        )
    )
    return {"conversation": conversation_dict(fresh), "message": message}


ROUTES = [
    Route(
        "POST",
        "/api/v1/conversations",
        start_conversation,
        "Start a conversation: the first message goes to `to` on the channel (SMS: any valid number)",
        OutreachOut,
        body=OutreachIn,
        status=201,
        errors=(403, 422),
        tag="conversations",
    ),
]
