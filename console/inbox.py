"""The inbox: the one funnel from channel adapters into the store.

normalised inbound -> contact resolved by identity -> threaded into the contact's open conversation
on that channel (or a new one) -> stored once per (channel, inbox, external id) -> events published
after commit -> the stored message queued for the processors (routing, SLA, bot) in some process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from lines.channels.base import Automatic, ContactInfo, InboundAttachment, InboundMessage
from lines.console.bus import EventBus
from lines.console.changes import Inbound
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inline_images import sanitize_html
from lines.console.models import (
    Attachment,
    AuthorKind,
    Contact,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageRevision,
    Operator,
    Status,
    Team,
    utcnow,
)
from lines.console.serialize import conversation_dict, message_dict
from lines.console.storage import new_token, safe_filename

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TEXT = 200_000
MAX_ORIGINAL_NAME = 1000


def channel_key(channel: str, inbox: str) -> str:
    return f"{channel}:{inbox}"


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """PostgreSQL text rejects NUL; everything else the customer sent is kept as is."""
    return text.replace("\x00", "")[:limit]


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
    # An edit of a stored message (announced as `message.updated`, no change job).
    edited: bool = False


def _names(att: InboundAttachment) -> tuple[str, str | None]:
    """The safe stored name and the customer's own one (None when they are the same), whichever
    channel made the file and whether or not it was stored."""
    original = clean_text(att.original_filename or att.filename, MAX_ORIGINAL_NAME)
    stored = safe_filename(original)
    return stored, (original if original != stored else None)


def attachment_rows(message: Message, files: Iterable[InboundAttachment]) -> list[Attachment]:
    """The rows of files that came with an inbound message (already saved by the adapter)."""
    return [
        Attachment(
            message_id=message.id,
            conversation_id=message.conversation_id,
            filename=_names(att)[0],
            original_filename=_names(att)[1],
            content_type=att.content_type,
            size=att.size,
            sha256=att.sha256,
            storage_path=att.storage_path,
            stored=att.stored,
            token=new_token(),
        )
        for att in files
    ]


async def _store_message(
    session: AsyncSession,
    conversation: Conversation,
    inbound: InboundMessage,
    contact: Contact,
    extra: dict[str, Any],
    now: datetime,
) -> tuple[Message, list[Attachment]]:
    """Add the customer's message and its attachment rows to `conversation` (flushed for its id)."""
    message = Message(
        conversation_id=conversation.id,
        channel_key=channel_key(inbound.channel, inbound.inbox),
        direction=Direction.IN,
        author_kind=AuthorKind.CONTACT,
        author_name=contact.name,
        text=clean_text(inbound.text),
        html=sanitize_html(inbound.html),
        external_id=inbound.external_id,
        delivery_status=DeliveryStatus.RECEIVED,
        automatic=None if inbound.automatic == Automatic.NONE else inbound.automatic.value,
        extra=extra,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    attachments = attachment_rows(message, inbound.attachments)
    session.add_all(attachments)
    return message, attachments


async def resolve_contact(
    session: AsyncSession, channel: str, inbox: str, sender: ContactInfo
) -> tuple[Contact, ContactIdentity]:
    """The contact behind `sender` on this channel and the identity it wrote from, made on first sight.

    A known identity's contact is row-locked, so concurrent messages of one person thread into one
    conversation. A new identity with an E.164 phone (SMS, a Telegram shared contact, the widget's
    pre-chat form) joins the contact who already has that number.
    """
    identity = await session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.channel == channel,
            ContactIdentity.inbox == inbox,
            ContactIdentity.external_id == sender.external_id,
        )
    )
    if identity is not None:
        contact = await session.scalar(select(Contact).where(Contact.id == identity.contact_id).with_for_update())
        assert contact is not None
        if sender.name and not contact.name:
            contact.name = clean_text(sender.name, 300)
        if sender.phone and not contact.phone:
            contact.phone = sender.phone
        return contact, identity
    contact = None
    if sender.phone:
        contact = await session.scalar(
            select(Contact).where(Contact.phone == sender.phone).order_by(Contact.id).limit(1).with_for_update()
        )
    if contact is None:
        contact = Contact(name=clean_text(sender.name, 300), email=sender.email, phone=sender.phone)
        session.add(contact)
        await session.flush()
    elif sender.name and not contact.name:
        contact.name = clean_text(sender.name, 300)
    identity = ContactIdentity(
        contact_id=contact.id,
        channel=channel,
        inbox=inbox,
        external_id=sender.external_id,
        display=clean_text(sender.display or sender.name, 300),
        verified=sender.verified,
    )
    session.add(identity)
    await session.flush()
    return contact, identity


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
        if inbound.edit_of is not None:
            edited = await self._store_edit(session, inbound)
            if edited is not None:
                return edited
        key = channel_key(inbound.channel, inbound.inbox)
        existing = await session.scalar(
            select(Message).where(Message.channel_key == key, Message.external_id == inbound.external_id)
        )
        if existing is not None:
            conversation = await session.get(Conversation, existing.conversation_id)
            assert conversation is not None
            return IngestResult(existing.id, conversation.id, conversation.contact_id, False, False)

        contact, identity = await resolve_contact(session, inbound.channel, inbound.inbox, inbound.sender)
        if identity.state == "blocked":
            return await self._store_blocked(session, inbound, contact, identity)
        conversation, conversation_created = await self._thread(session, inbound, contact, identity)
        extra = inbound.extra
        if conversation.contact_id != contact.id:
            # A reply to our message from another address of the customer: shown on the message, and
            # the sender's contact is offered on the card as the same person (never merged silently).
            extra = {**extra, "new_address": {"contact_id": contact.id, "address": inbound.sender.external_id}}
        now = utcnow()
        message, attachments = await _store_message(session, conversation, inbound, contact, extra, now)
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

    async def _thread(
        self, session: AsyncSession, inbound: InboundMessage, contact: Contact, identity: ContactIdentity
    ) -> tuple[Conversation, bool]:
        hinted = await self._hinted(session, inbound, contact)
        if hinted is not None:
            return hinted, False
        answered = await self._replied_to_ours(session, inbound)
        if answered is not None:
            return answered, False
        # The identity's own conversation: another identity of the same contact on this inbox (a
        # merged visitor, a second device) has conversations of its own, answered to it.
        query = (
            select(Conversation)
            .where(
                Conversation.identity_id == identity.id,
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
            identity_id=identity.id,
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

    async def _hinted(self, session: AsyncSession, inbound: InboundMessage, contact: Contact) -> Conversation | None:
        """The open conversation a thread hint points at, only if it is this contact's on this inbox."""
        scope = (
            Conversation.contact_id == contact.id,
            Conversation.channel == inbound.channel,
            Conversation.inbox == inbound.inbox,
            Conversation.status != Status.RESOLVED,
        )
        if inbound.conversation_hint is not None:
            conversation = await session.scalar(
                select(Conversation).where(Conversation.id == inbound.conversation_hint, *scope)
            )
            if conversation is not None:
                return conversation
        if inbound.references:
            return await session.scalar(
                select(Conversation)
                .join(Message, Message.conversation_id == Conversation.id)
                .where(
                    Message.channel_key == channel_key(inbound.channel, inbound.inbox),
                    Message.external_id.in_(inbound.references),
                    *scope,
                )
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        return None

    async def _replied_to_ours(self, session: AsyncSession, inbound: InboundMessage) -> Conversation | None:
        """The open conversation on this inbox one of *our* messages named in the references belongs
        to, whoever its contact is: a customer answering from another address. Our outgoing ids are
        per conversation, so replies to one mailing still never share a conversation; the customer's
        own ids (which anybody copied could quote) only ever thread within the contact."""
        if not inbound.references:
            return None
        return await session.scalar(
            select(Conversation)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(
                Message.channel_key == channel_key(inbound.channel, inbound.inbox),
                Message.external_id.in_(inbound.references),
                Message.direction == Direction.OUT,
                Conversation.channel == inbound.channel,
                Conversation.inbox == inbound.inbox,
                Conversation.status != Status.RESOLVED,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )

    async def _announce(self, result: IngestResult, announcement: Announcement) -> None:
        if result.edited:
            await self._events.send("message.updated", announcement.message, announcement.audience)
            return
        kind = "conversation.created" if result.conversation_created else "conversation.updated"
        await self._events.send(kind, announcement.conversation, announcement.audience)
        await self._events.send("message.created", announcement.message, announcement.audience)
        await self._events.change(
            Inbound(
                message_id=result.message_id,
                conversation_id=result.conversation_id,
                conversation_created=result.conversation_created,
            )
        )

    async def _store_edit(self, session: AsyncSession, inbound: InboundMessage) -> IngestResult | None:
        """An edit of a stored message: the version it replaces goes to `message_revisions`.

        None when the original is unknown (never stored): the caller stores the edit as a message.
        An edit delivered twice is kept once; an edit without text (a removed caption) keeps the text.
        """
        key = channel_key(inbound.channel, inbound.inbox)
        message = await session.scalar(
            select(Message).where(Message.channel_key == key, Message.external_id == inbound.edit_of).with_for_update()
        )
        if message is None:
            return None
        conversation = await session.get(Conversation, message.conversation_id)
        assert conversation is not None
        seen = await session.scalar(
            select(MessageRevision.id).where(
                MessageRevision.channel_key == key, MessageRevision.external_id == inbound.external_id
            )
        )
        if seen is not None:
            return IngestResult(message.id, conversation.id, conversation.contact_id, False, False, edited=True)
        now = utcnow()
        session.add(
            MessageRevision(
                message_id=message.id,
                channel_key=key,
                external_id=inbound.external_id,
                text=message.text,
                html=message.html,
                created_at=message.edited_at or message.created_at,
                replaced_at=now,
            )
        )
        text = clean_text(inbound.text)
        if text or inbound.html:
            message.text = text
            message.html = sanitize_html(inbound.html)
        message.edited_at = now
        # Media replaced in the edit: the new file joins the message (the earlier one stays too).
        if inbound.attachments:
            known = set(await session.scalars(select(Attachment.sha256).where(Attachment.message_id == message.id)))
            session.add_all(
                attachment_rows(message, [a for a in inbound.attachments if not a.sha256 or a.sha256 not in known])
            )
        await session.flush()
        conversation = await load_conversation(session, conversation.id)
        assert conversation is not None
        loaded = await load_message(session, message.id)
        assert loaded is not None
        announcement = Announcement(
            conversation=conversation_dict(conversation),
            message=message_dict(loaded),
            audience=Audience.of(conversation),
        )
        return IngestResult(
            message.id, conversation.id, conversation.contact_id, True, False, announcement, edited=True
        )

    async def _store_blocked(
        self, session: AsyncSession, inbound: InboundMessage, contact: Contact, identity: ContactIdentity
    ) -> IngestResult:
        """A blocked sender's message is kept, silently: it opens, reopens and announces nothing."""
        conversation = await session.scalar(
            select(Conversation)
            .where(
                Conversation.identity_id == identity.id,
                Conversation.channel == inbound.channel,
                Conversation.inbox == inbound.inbox,
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if conversation is None:
            conversation = Conversation(
                contact_id=contact.id,
                identity_id=identity.id,
                channel=inbound.channel,
                inbox=inbound.inbox,
                external_thread_id=inbound.thread_id,
                status=Status.RESOLVED,
                subject=clean_text(inbound.subject, 500),
                source=inbound.source,
            )
            session.add(conversation)
            await session.flush()
        extra = {**inbound.extra, "blocked_sender": True}
        message, _ = await _store_message(session, conversation, inbound, contact, extra, utcnow())
        await session.flush()
        return IngestResult(message.id, conversation.id, contact.id, True, False)
