"""Messages Lines itself sends to a customer: bot answers, surveys, acknowledgements, queue notices.

They go through the outbox like an operator's reply, are marked with their author kind (`bot` or
`system`) so the first-response clock and reports can tell them from a human's, and may carry
buttons. Buttons travel in `Message.extra["buttons"]` as `[{"id", "label"}]`; a channel with
`ChannelFeature.BUTTONS` shows them, and a press comes back as an inbound message whose
`extra["button"]` is `{"id", "message_id"}` (the id of the message that carried the buttons).
Channels without buttons get the text only: the caller words it so a typed reply works too.

Nothing automatic ever answers a machine: `may_send_automated` is the one check every automatic
sender makes before it changes anything (and `send_automated` makes it again, so no path forgets).
A conversation whose customer message that triggered the send, or whose latest customer message,
came from an auto-responder, a list, a bounce, ourselves or a no-reply address
(`messages.automatic`, `channels.base.Automatic`) gets nothing automatic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.channels.base import Automatic
from lines.console.changes import Reply
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inbox import channel_key, clean_text, load_conversation, load_message
from lines.console.models import AuthorKind, Conversation, DeliveryStatus, Direction, Message, OutboxItem, utcnow
from lines.console.serialize import conversation_dict, message_dict

log = logging.getLogger(__name__)
MAX_BUTTONS = 12  # an NPS question has eleven: 0 to 10


@dataclass(frozen=True, slots=True)
class Button:
    id: str
    label: str


async def _machine_sender(
    session: AsyncSession, conversation: Conversation, message: Message | None = None
) -> Automatic:
    """Which machine `message` (the customer message being answered, if any) or the conversation's
    latest customer message came from; `Automatic.NONE` when both are a person's."""
    kinds = [message.automatic] if message is not None else []
    if conversation.last_inbound_message_id is not None and (
        message is None or message.id != conversation.last_inbound_message_id
    ):
        kinds.append(
            await session.scalar(select(Message.automatic).where(Message.id == conversation.last_inbound_message_id))
        )
    for kind in kinds:
        if kind:
            return Automatic(kind)
    return Automatic.NONE


async def may_send_automated(session: AsyncSession, conversation: Conversation, message: Message | None = None) -> bool:
    """Whether Lines may send something automatic to this conversation's customer (in answer to
    `message`, if given): never when a machine wrote (an auto-responder, a list, a bounce, our own
    mail, a no-reply address)."""
    kind = await _machine_sender(session, conversation, message)
    if kind != Automatic.NONE:
        log.info("nothing automatic to conversation %s: its customer message is %s", conversation.id, kind.value)
        return False
    return True


async def send_automated(
    sessions: SessionMaker,
    events: Events,
    wake_outbox: Callable[[], None],
    conversation_id: int,
    text: str,
    *,
    author_kind: AuthorKind = AuthorKind.BOT,
    author_name: str = "",
    buttons: tuple[Button, ...] = (),
    extra: dict[str, Any] | None = None,
) -> int | None:
    """Queue `text` to the conversation's customer; returns the new message's id, or None when the
    customer is a machine (`may_send_automated`) and nothing was queued.

    Raises:
        LookupError: the conversation does not exist.
        ValueError: empty text, an operator author, or too many buttons.
    """
    if author_kind not in (AuthorKind.BOT, AuthorKind.SYSTEM):
        raise ValueError("automated messages are written by the bot or the system")
    text = clean_text(text.strip())
    if not text:
        raise ValueError("text must not be empty")
    if len(buttons) > MAX_BUTTONS:
        raise ValueError(f"at most {MAX_BUTTONS} buttons")
    payload = dict(extra or {})
    if buttons:
        payload["buttons"] = [{"id": b.id, "label": b.label} for b in buttons]
    async with sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            raise LookupError(f"conversation {conversation_id} does not exist")
        if not await may_send_automated(session, conversation):
            return None
        now = utcnow()
        message = Message(
            conversation_id=conversation.id,
            channel_key=channel_key(conversation.channel, conversation.inbox),
            direction=Direction.OUT,
            author_kind=author_kind,
            author_name=author_name,
            text=text,
            delivery_status=DeliveryStatus.QUEUED,
            extra=payload,
            created_at=now,
        )
        session.add(message)
        await session.flush()
        session.add(OutboxItem(message_id=message.id, channel=conversation.channel, inbox=conversation.inbox))
        conversation.last_message_at = now
        conversation.updated_at = now
        message_id = message.id
    wake_outbox()
    async with sessions() as session:
        stored = await load_message(session, message_id)
        fresh = await load_conversation(session, conversation_id)
    assert stored is not None and fresh is not None
    audience = Audience.of(fresh)
    await events.send("message.created", message_dict(stored), audience)
    await events.send("conversation.updated", conversation_dict(fresh), audience)
    await events.change(Reply(conversation_id=conversation_id, message_id=message_id, author_kind=author_kind.value))
    return message_id


async def add_system_note(
    sessions: SessionMaker, events: Events, conversation_id: int, text: str, extra: dict[str, Any] | None = None
) -> int:
    """A note from Lines to the operators in the conversation (never sent to the customer).

    Raises:
        LookupError: the conversation does not exist.
    """
    async with sessions() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise LookupError(f"conversation {conversation_id} does not exist")
        message = Message(
            conversation_id=conversation.id,
            channel_key=channel_key(conversation.channel, conversation.inbox),
            direction=Direction.SYSTEM,
            author_kind=AuthorKind.SYSTEM,
            text=clean_text(text),
            delivery_status=DeliveryStatus.RECEIVED,
            extra=dict(extra or {}),
            created_at=utcnow(),
        )
        session.add(message)
        await session.flush()
        message_id = message.id
    async with sessions() as session:
        stored = await load_message(session, message_id)
        fresh = await load_conversation(session, conversation_id)
    assert stored is not None and fresh is not None
    await events.send("message.created", message_dict(stored), Audience.of(fresh))
    return message_id
