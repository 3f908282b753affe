"""The inbox: the one funnel from channel adapters into the store.

normalised inbound -> contact resolved by identity -> threaded into the contact's open conversation
on that channel (or a new one) -> stored once per (channel, inbox, external id) -> events published
after commit -> the stored message queued for the processors (routing, SLA, bot) in some process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

import nh3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from lines.channels.base import InboundMessage
from lines.console.bus import EventBus
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.models import (
    Attachment,
    AuthorKind,
    Contact,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Operator,
    Status,
    Team,
    utcnow,
)
from lines.console.serialize import conversation_dict, message_dict
from lines.console.storage import new_token

log = logging.getLogger(__name__)
T = TypeVar("T")
INBOUND_QUEUE = "inbound"
MAX_TEXT = 200_000


def channel_key(channel: str, inbox: str) -> str:
    return f"{channel}:{inbox}"


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """PostgreSQL text rejects NUL; everything else the customer sent is kept as is."""
    return text.replace("\x00", "")[:limit]


def sanitize_html(html: str | None) -> str | None:
    if not html:
        return None
    return nh3.clean(html.replace("\x00", ""), link_rel="nofollow noreferrer noopener")


@dataclass(frozen=True, slots=True)
class Announcement:
    """The events of one stored message, published after the commit."""

    conversation: dict[str, Any]
    message: dict[str, Any]
    audience: Audience


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int
    conversation_id: int
    contact_id: int
    created: bool
    conversation_created: bool
    announcement: Announcement | None = None


async def load_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    return await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(
            selectinload(Conversation.contact),
            selectinload(Conversation.assignee),
            selectinload(Conversation.team),
        )
        .execution_options(populate_existing=True)
    )


async def load_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(Message.id == message_id)
        .options(selectinload(Message.attachments))
        .execution_options(populate_existing=True)
    )


class Inbox:
    def __init__(self, sessions: SessionMaker, events: Events, bus: EventBus, teams: dict[str, str]) -> None:
        """`teams` maps `channel:inbox` to the name of the team new conversations go to."""
        self._sessions = sessions
        self._events = events
        self._bus = bus
        self._teams = teams

    async def ingest(self, inbound: InboundMessage) -> IngestResult:
        """Store one inbound message exactly once and announce it.

        Concurrent first messages of a new contact may both try to create its identity; the loser
        hits the unique constraint and retries, then finds the winner's contact and conversation.
        """
        for attempt in range(3):
            try:
                async with self._sessions() as session, session.begin():
                    result = await self._store(session, inbound)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
                log.info("ingest race on %s/%s, retrying", inbound.channel, inbound.external_id)
        if result.announcement is not None:
            await self._announce(result, result.announcement)
        return result

    async def _store(self, session: AsyncSession, inbound: InboundMessage) -> IngestResult:
        key = channel_key(inbound.channel, inbound.inbox)
        existing = await session.scalar(
            select(Message).where(Message.channel_key == key, Message.external_id == inbound.external_id)
        )
        if existing is not None:
            conversation = await session.get(Conversation, existing.conversation_id)
            assert conversation is not None
            return IngestResult(existing.id, conversation.id, conversation.contact_id, False, False)

        contact = await self._resolve_contact(session, inbound)
        conversation, conversation_created = await self._thread(session, inbound, contact)
        now = utcnow()
        message = Message(
            conversation_id=conversation.id,
            channel_key=key,
            direction=Direction.IN,
            author_kind=AuthorKind.CONTACT,
            author_name=contact.name,
            text=clean_text(inbound.text),
            html=sanitize_html(inbound.html),
            external_id=inbound.external_id,
            delivery_status=DeliveryStatus.RECEIVED,
            extra=inbound.extra,
            created_at=now,
        )
        session.add(message)
        await session.flush()
        attachments = []
        for att in inbound.attachments:
            attachments.append(
                Attachment(
                    message_id=message.id,
                    conversation_id=conversation.id,
                    filename=att.filename,
                    content_type=att.content_type,
                    size=att.size,
                    sha256=att.sha256,
                    storage_path=att.storage_path,
                    stored=att.stored,
                    token=new_token(),
                )
            )
        session.add_all(attachments)
        conversation.last_message_at = now
        conversation.last_inbound_message_id = message.id
        if conversation.status in (Status.PENDING, Status.SNOOZED):
            conversation.status = Status.OPEN
            conversation.snoozed_until = None
        conversation.updated_at = now
        await session.flush()
        # Built here from what the transaction already holds: announcing costs no extra round trips.
        set_committed_value(conversation, "contact", contact)
        set_committed_value(conversation, "team", await self._get(session, Team, conversation.team_id))
        set_committed_value(conversation, "assignee", await self._get(session, Operator, conversation.assignee_id))
        set_committed_value(message, "attachments", attachments)
        announcement = Announcement(
            conversation=conversation_dict(conversation, unread=True),
            message=message_dict(message),
            audience=Audience.of(conversation),
        )
        return IngestResult(message.id, conversation.id, contact.id, True, conversation_created, announcement)

    @staticmethod
    async def _get(session: AsyncSession, model: type[T], key: int | None) -> T | None:
        return None if key is None else await session.get(model, key)

    async def _resolve_contact(self, session: AsyncSession, inbound: InboundMessage) -> Contact:
        sender = inbound.sender
        identity = await session.scalar(
            select(ContactIdentity).where(
                ContactIdentity.channel == inbound.channel,
                ContactIdentity.inbox == inbound.inbox,
                ContactIdentity.external_id == sender.external_id,
            )
        )
        if identity is not None:
            # Lock the contact: concurrent messages of one person thread into one conversation.
            contact = await session.scalar(select(Contact).where(Contact.id == identity.contact_id).with_for_update())
            assert contact is not None
            if sender.name and not contact.name:
                contact.name = clean_text(sender.name, 300)
            return contact
        contact = Contact(
            name=clean_text(sender.name, 300),
            email=sender.email,
            phone=sender.phone,
        )
        session.add(contact)
        await session.flush()
        session.add(
            ContactIdentity(
                contact_id=contact.id,
                channel=inbound.channel,
                inbox=inbound.inbox,
                external_id=sender.external_id,
                display=clean_text(sender.display or sender.name, 300),
                verified=sender.verified,
            )
        )
        await session.flush()
        return contact

    async def _thread(
        self, session: AsyncSession, inbound: InboundMessage, contact: Contact
    ) -> tuple[Conversation, bool]:
        query = (
            select(Conversation)
            .where(
                Conversation.contact_id == contact.id,
                Conversation.channel == inbound.channel,
                Conversation.inbox == inbound.inbox,
                Conversation.status != Status.RESOLVED,
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if inbound.thread_id is not None:
            query = query.where(Conversation.external_thread_id == inbound.thread_id)
        conversation = await session.scalar(query)
        if conversation is not None:
            return conversation, False
        team_name = self._teams.get(channel_key(inbound.channel, inbound.inbox))
        team_id = None
        if team_name:
            team_id = await session.scalar(select(Team.id).where(Team.name == team_name))
        conversation = Conversation(
            contact_id=contact.id,
            channel=inbound.channel,
            inbox=inbound.inbox,
            external_thread_id=inbound.thread_id,
            status=Status.OPEN,
            team_id=team_id,
            subject=clean_text(inbound.subject, 500),
            source=inbound.source,
        )
        session.add(conversation)
        await session.flush()
        return conversation, True

    async def _announce(self, result: IngestResult, announcement: Announcement) -> None:
        kind = "conversation.created" if result.conversation_created else "conversation.updated"
        await self._events.send(kind, announcement.conversation, announcement.audience)
        await self._events.send("message.created", announcement.message, announcement.audience)
        job: dict[str, Any] = {
            "message_id": result.message_id,
            "conversation_id": result.conversation_id,
            "conversation_created": result.conversation_created,
        }
        try:
            await self._bus.enqueue(INBOUND_QUEUE, job)
        except ConnectionError as err:
            # The message is stored; processors that need it sweep the store as well (issue 6, 7, 8).
            log.warning("message %s stored but not queued, bus unavailable: %s", result.message_id, err)
