"""The outbox worker: replies leave through their channel adapter, with retries and backoff.

Rows are claimed by compare-and-set (`UPDATE ... WHERE status = pending`), so several processes can
run workers on one database and each row is sent by one of them. A claim is a lease: a worker killed
mid-send leaves a row that another worker picks up once the lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.channels.base import (
    BaseChannel,
    ChannelFeature,
    ContactInfo,
    DeliveryError,
    DeliveryReceipt,
    OutboundAttachment,
    OutboundMessage,
    PermanentDeliveryError,
)
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.identities import conversation_identity
from lines.console.inbox import load_conversation, load_message
from lines.console.metrics import Metrics
from lines.console.models import (
    AuthorKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    Status,
    utcnow,
)
from lines.console.periodic import stop_task
from lines.console.serialize import conversation_dict, message_dict
from lines.console.settings import OutboxSettings

log = logging.getLogger(__name__)
BATCH = 100


def backoff_seconds(attempt: int, settings: OutboxSettings) -> float:
    """Exponential backoff: base, 2*base, 4*base ... capped."""
    return float(min(settings.backoff_base_seconds * 2 ** max(0, attempt - 1), settings.backoff_max_seconds))


class OutboxWorker:
    def __init__(
        self,
        sessions: SessionMaker,
        channels: Mapping[tuple[str, str], BaseChannel],
        events: Events,
        settings: OutboxSettings,
        files_root: Path,
        metrics: Metrics,
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        self._events = events
        self._settings = settings
        self._files_root = files_root
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        """A new row is waiting: don't wait for the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Let the pass in flight finish (a send is not cut off mid-query), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                while not self._stopping and await self.run_once():
                    pass
            except Exception:
                log.exception("outbox pass failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim and deliver the due rows; returns how many were claimed."""
        claimed = await self._claim()
        by_conversation: dict[int, list[int]] = defaultdict(list)
        for item_id, conversation_id in claimed:
            by_conversation[conversation_id].append(item_id)
        await asyncio.gather(*(self._deliver_in_order(ids) for ids in by_conversation.values()))
        return len(claimed)

    async def _claim(self) -> list[tuple[int, int]]:
        now = utcnow()
        due = or_(
            and_(OutboxItem.status == OutboxStatus.PENDING, OutboxItem.next_attempt_at <= now),
            and_(OutboxItem.status == OutboxStatus.SENDING, OutboxItem.locked_until < now),
        )
        claimed: list[tuple[int, int]] = []
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(OutboxItem.id, Message.conversation_id)
                    .join(Message, Message.id == OutboxItem.message_id)
                    .where(due)
                    .order_by(OutboxItem.id)
                    .limit(BATCH)
                )
            ).all()
            lease = now + timedelta(seconds=self._settings.lease_seconds)
            for item_id, conversation_id in rows:
                result = await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item_id, due)
                    .values(
                        status=OutboxStatus.SENDING,
                        locked_until=lease,
                        attempts=OutboxItem.attempts + 1,
                        updated_at=now,
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append((item_id, conversation_id))
        return claimed

    async def _deliver_in_order(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            try:
                await self._deliver(item_id)
            except Exception:
                log.exception("outbox item %s crashed", item_id)

    async def _deliver(self, item_id: int) -> None:
        async with self._sessions() as session:
            item = await session.get(OutboxItem, item_id)
            assert item is not None
            try:
                outbound: OutboundMessage | DeliveryError = await self._build(session, item)
            except DeliveryError as err:
                outbound = err
        if isinstance(outbound, DeliveryError):
            await self._failed(item, outbound)
            return
        channel = self._channels.get((item.channel, item.inbox))
        try:
            if channel is None:
                raise DeliveryError(f"channel {item.channel}/{item.inbox} is not configured", temporary=False)
            receipt = await channel.deliver(outbound)
        except DeliveryError as err:
            await self._failed(item, err)
        except Exception as err:
            log.exception("adapter %s/%s raised while sending message %s", item.channel, item.inbox, item.message_id)
            await self._failed(item, DeliveryError(f"unexpected error: {err!r}", temporary=True))
        else:
            await self._sent(item, receipt)

    async def _build(self, session: AsyncSession, item: OutboxItem) -> OutboundMessage:
        message = await session.scalar(
            select(Message).where(Message.id == item.message_id).options(selectinload(Message.attachments))
        )
        assert message is not None
        conversation = await session.get(Conversation, message.conversation_id)
        assert conversation is not None
        identity = await conversation_identity(session, conversation)
        if identity is not None and identity.state != "active":
            raise PermanentDeliveryError(
                f"the contact is {identity.state.replace('_', ' ')} on {conversation.channel}"
                + (f": {identity.state_reason}" if identity.state_reason else "")
            )
        recipient = ContactInfo(
            external_id=identity.external_id if identity else "",
            display=identity.display if identity else "",
            verified=identity.verified if identity else False,
        )
        return OutboundMessage(
            message_id=message.id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            inbox=conversation.inbox,
            recipient=recipient,
            text=message.text,
            author_kind=message.author_kind,
            author_name=message.author_name,
            direction=message.direction,
            subject=conversation.subject,
            thread_id=conversation.external_thread_id,
            attachments=tuple(
                OutboundAttachment(a.filename, a.content_type, self._files_root / a.storage_path)
                for a in message.attachments
                if a.stored and a.storage_path
            ),
            created_at=message.created_at,
            extra=await self._thread_extra(session, item, message, conversation),
        )

    async def _thread_extra(
        self, session: AsyncSession, item: OutboxItem, message: Message, conversation: Conversation
    ) -> dict[str, Any]:
        """For threaded channels (email): the conversation's earlier external ids, oldest first, and
        the reply address of the customer's latest message, under `extra["thread"]`."""
        channel = self._channels.get((item.channel, item.inbox))
        if channel is None or not channel.features & ChannelFeature.THREADS:
            return message.extra
        rows = (
            await session.execute(
                select(Message.external_id, Message.direction, Message.extra)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.id != message.id,
                    Message.external_id.is_not(None),
                )
                .order_by(Message.id)
            )
        ).all()
        reply_to = None
        for _, direction, extra in rows:
            if direction == Direction.IN and extra and extra.get("reply_to"):
                reply_to = extra["reply_to"]
        thread = {"references": [row[0] for row in rows], "reply_to": reply_to}
        return {**(message.extra or {}), "thread": thread}

    async def _sent(self, item: OutboxItem, receipt: DeliveryReceipt) -> None:
        now = utcnow()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(status=OutboxStatus.DONE, locked_until=None, last_error=None, updated_at=now)
            )
            await session.execute(
                update(Message)
                .where(Message.id == item.message_id)
                .values(
                    delivery_status=receipt.status,
                    delivery_error=None,
                    external_id=receipt.external_id,
                    sent_at=now,
                )
            )
        self._metrics.outbound.labels(item.channel, "sent").inc()
        await self._announce(item.message_id)

    async def _failed(self, item: OutboxItem, err: DeliveryError) -> None:
        now = utcnow()
        attempts = item.attempts  # read after the claim, which counted this attempt
        final = not err.temporary or attempts >= self._settings.max_attempts
        delay = max(backoff_seconds(attempts, self._settings), err.retry_after or 0.0)
        reason = str(err)[:2000]
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(
                    status=OutboxStatus.FAILED if final else OutboxStatus.PENDING,
                    next_attempt_at=now + timedelta(seconds=delay),
                    locked_until=None,
                    last_error=reason,
                    updated_at=now,
                )
            )
            await session.execute(
                update(Message)
                .where(Message.id == item.message_id)
                .values(
                    delivery_status=DeliveryStatus.FAILED if final else DeliveryStatus.QUEUED,
                    delivery_error=reason,
                )
            )
            if final:
                await self._note_failure(session, item.message_id, reason)
        log.warning(
            "delivery of message %s via %s/%s failed (attempt %d, %s): %s",
            item.message_id,
            item.channel,
            item.inbox,
            attempts,
            "final" if final else "will retry",
            reason,
        )
        self._metrics.outbound.labels(item.channel, "failed" if final else "retry").inc()
        await self._announce(item.message_id)

    async def record_receipt(
        self, channel: str, inbox: str, external_id: str, status: DeliveryStatus, error: str | None = None
    ) -> int | None:
        """A provider's later word on a sent message (delivery report, bounce): update it live.

        Returns the message id, or None when no outbound message has that provider id. A failure
        gets the same system note as a failed send; a status never moves back (delivered stays
        delivered when a late `sent` report arrives).
        """
        rank = {DeliveryStatus.QUEUED: 0, DeliveryStatus.SENT: 1, DeliveryStatus.DELIVERED: 2, DeliveryStatus.READ: 3}
        async with self._sessions() as session, session.begin():
            message = await session.scalar(
                select(Message)
                .where(
                    Message.channel_key == f"{channel}:{inbox}",
                    Message.external_id == external_id,
                    Message.direction == Direction.OUT,
                )
                .with_for_update()
            )
            if message is None:
                return None
            current = DeliveryStatus(message.delivery_status)
            if current == status or current == DeliveryStatus.FAILED:
                return message.id
            if status != DeliveryStatus.FAILED and rank.get(status, 0) < rank.get(current, 0):
                return message.id
            message.delivery_status = status
            if status == DeliveryStatus.FAILED:
                message.delivery_error = (error or "the provider reported a failure")[:2000]
                await self._note_failure(session, message.id, message.delivery_error)
            message_id = message.id
        await self._announce(message_id)
        return message_id

    async def _note_failure(self, session: AsyncSession, message_id: int, reason: str) -> None:
        """Tell the operators in the conversation itself, and reopen it: a silent drop is a lost answer."""
        message = await session.get(Message, message_id)
        assert message is not None
        conversation = await session.get(Conversation, message.conversation_id)
        assert conversation is not None
        session.add(
            Message(
                conversation_id=conversation.id,
                channel_key=message.channel_key,
                direction=Direction.SYSTEM,
                author_kind=AuthorKind.SYSTEM,
                text=f"Message #{message_id} could not be delivered: {reason}",
                delivery_status=DeliveryStatus.FAILED,
                extra={"failed_message_id": message_id},
            )
        )
        if conversation.status != Status.OPEN:
            conversation.status = Status.OPEN
            conversation.snoozed_until = None
            conversation.resolved_at = None

    async def _announce(self, message_id: int) -> None:
        async with self._sessions() as session:
            message = await load_message(session, message_id)
            assert message is not None
            conversation = await load_conversation(session, message.conversation_id)
            assert conversation is not None
            notes = (
                await session.scalars(
                    select(Message)
                    .where(
                        Message.conversation_id == conversation.id,
                        Message.direction == Direction.SYSTEM,
                        Message.id > message_id,
                    )
                    .options(selectinload(Message.attachments))
                )
            ).all()
        audience = Audience.of(conversation)
        await self._events.send("message.updated", message_dict(message), audience)
        for note in notes:
            if note.extra.get("failed_message_id") == message_id:
                await self._events.send("message.created", message_dict(note), audience)
                await self._events.send("conversation.updated", conversation_dict(conversation), audience)
