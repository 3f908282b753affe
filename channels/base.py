"""The channel contract: normalised messages in, an outbox-driven `deliver()` out.

Adapters never touch the database. Inbound, they build an `InboundMessage` at the edge and call the
injected `ingest` coroutine (the inbox service). Outbound, the outbox worker calls `deliver()`,
whose bookkeeping is final here; an adapter implements only `_send()`.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, final


class ChannelFeature(enum.IntFlag):
    NONE = 0
    ATTACHMENTS = enum.auto()
    RICH_TEXT = enum.auto()
    BUTTONS = enum.auto()
    EDIT = enum.auto()
    TYPING = enum.auto()
    SUBJECT = enum.auto()
    THREADS = enum.auto()
    READ_RECEIPTS = enum.auto()
    BLOCK_SENDER = enum.auto()
    """Operators get a block/unblock button for the sender (a chat bot's spammer, say)."""
    SIGNATURE = enum.auto()
    """The adapter places `OutboundMessage.extra["signature"]` itself (email: under `-- `)."""


class Automatic(enum.StrEnum):
    """Whether an inbound message came from a person or a machine, and which kind of machine.

    Lines never sends anything automatic (acknowledgements, bot answers and notices, surveys, queue
    notices) in answer to a machine: two robots answering each other never stop.
    """

    NONE = "none"
    """A person."""
    AUTO_REPLY = "auto_reply"
    """An out-of-office or other auto-responder (Auto-Submitted, X-Autoreply, Precedence: auto_reply)."""
    BULK = "bulk"
    """Bulk or junk mail (Precedence: bulk / junk)."""
    LIST = "list"
    """A mailing list (List-Id, List-Unsubscribe, Precedence: list)."""
    BOUNCE = "bounce"
    """A delivery failure report (a DSN, MAILER-DAEMON, postmaster)."""
    LOOP = "loop"
    """Our own message came back (From is our own address, one of our Message-IDs)."""
    NOREPLY = "noreply"
    """A sender that says no one reads answers (noreply@, no-reply@, do-not-reply@...)."""


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    """A file that came with an inbound message, already saved under the data directory."""

    filename: str
    content_type: str
    size: int
    sha256: str
    storage_path: str | None
    stored: bool = True
    original_filename: str | None = None
    """The name as the customer gave it (shown to operators); `filename` is the safe stored name."""


@dataclass(frozen=True, slots=True)
class ContactInfo:
    """What the channel knows of the sender; `external_id` is the identity on this channel."""

    external_id: str
    name: str = ""
    email: str | None = None
    phone: str | None = None
    verified: bool = False
    display: str = ""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, normalised by an adapter.

    Attributes:
        channel: the channel kind (`webchat`, `email`, `telegram`, `sms`).
        inbox: which site, mailbox, bot or number received it.
        external_id: the provider's message id; with `channel` and `inbox` it makes ingest idempotent.
        sender: the customer as this channel knows them.
        text: plain text; `html` is the raw HTML if any (the inbox sanitises it).
        thread_id: the provider's conversation id, when the channel has threads.
        source: the touchpoint (page URL, referrer, UTM tags, start payload, mailbox...).
        extra: what does not generalise.
        references: external ids of earlier messages this one answers (email In-Reply-To/References);
            the inbox threads into the conversation holding one of them, if it is the same contact's.
        conversation_hint: a conversation id the channel read from a verified reference (a signed
            Message-ID, a subject tag); used only if that conversation is the same contact's.
        automatic: whether a machine sent it (stored as `messages.automatic`); nothing automatic
            is sent in answer to one that is not `Automatic.NONE`.
    """

    channel: str
    inbox: str
    external_id: str
    sender: ContactInfo
    text: str = ""
    html: str | None = None
    subject: str = ""
    thread_id: str | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    source: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    conversation_hint: int | None = None
    # The provider id of the message this one edits: stored as a new version of that message.
    edit_of: str | None = None
    automatic: Automatic = Automatic.NONE


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    filename: str
    content_type: str
    path: Path


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply to deliver: everything an adapter needs, read from the store by the outbox worker."""

    message_id: int
    conversation_id: int
    channel: str
    inbox: str
    recipient: ContactInfo
    text: str
    author_kind: str
    author_name: str
    direction: str = "out"
    subject: str = ""
    thread_id: str | None = None
    attachments: tuple[OutboundAttachment, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What the provider said: its id for the message and how far delivery got."""

    external_id: str | None
    status: str = "sent"


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """A channel's health and set-up hints as the channel itself knows them (the admin Channels page).

    Attributes:
        connected: whether its connection to the provider is up; None when it keeps none (the
            provider calls in, or customers connect to us).
        leading: whether this process holds the channel's lease (it reads the mailbox or polls the
            bot); None when the channel has no lease.
        last_error: the last error the channel met talking to its provider, "" when none since it
            last worked. Never carries a secret.
        webhook_url: the URL to paste into the provider's settings, "" when there is none.
        embed: the HTML snippet to paste into a site, "" when there is none.
    """

    connected: bool | None = None
    leading: bool | None = None
    last_error: str = ""
    webhook_url: str = ""
    embed: str = ""


def error_text(err: BaseException, *secrets: str) -> str:
    """`err` for `ChannelHealth.last_error`: its type and message, with any of `secrets` masked."""
    text = f"{type(err).__name__}: {err}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class DeliveryError(Exception):
    """Delivery failed; `temporary` ones are retried with backoff by the outbox."""

    def __init__(self, message: str, *, temporary: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.retry_after = retry_after


class TemporaryDeliveryError(DeliveryError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, temporary=True, retry_after=retry_after)


class PermanentDeliveryError(DeliveryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=False)


class BaseChannel(abc.ABC):
    """One configured channel instance (a site, a mailbox, a bot, a number)."""

    kind: ClassVar[str]
    features: ClassVar[ChannelFeature] = ChannelFeature.NONE
    max_text_length: ClassVar[int | None] = None

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self) -> None:
        """Open connections and start background work; idempotent."""

    async def stop(self) -> None:
        """Close what `start()` opened; idempotent."""

    def health(self, base_url: str) -> ChannelHealth:
        """Health and set-up hints; `base_url` is where customers and providers reach Lines.

        The default knows nothing beyond the configuration; adapters that keep a connection or a
        lease, or have a URL to paste somewhere, say so.
        """
        return ChannelHealth()

    async def resolve_recipient(self, address: str) -> ContactInfo:
        """The identity an operator-started conversation goes to (`POST /api/v1/conversations`).

        Raises:
            ValueError: the address is not valid on this channel, or the channel cannot start
                conversations (the message says which).
        """
        raise ValueError(f"{self.kind} conversations cannot be started by an operator")

    @final
    def starts_conversations(self) -> bool:
        """Whether an operator can write first on this channel (it overrides `resolve_recipient`)."""
        return type(self).resolve_recipient is not BaseChannel.resolve_recipient

    @final
    async def deliver(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send one outbound message after the checks every channel shares.

        Raises:
            PermanentDeliveryError: the message can never go out (a note, wrong channel, too long).
            TemporaryDeliveryError: try again later (raised by `_send`).
        """
        if message.direction != "out":
            raise PermanentDeliveryError(f"{message.direction} messages are never sent to customers")
        if (message.channel, message.inbox) != (self.kind, self.name):
            raise PermanentDeliveryError(
                f"message for {message.channel}/{message.inbox} given to {self.kind}/{self.name}"
            )
        signature = message.extra.get("signature")
        if signature and not self.features & ChannelFeature.SIGNATURE:
            # Plain text below the reply; the adapter escapes it with the rest of the text.
            message = replace(message, text=f"{message.text}\n\n{signature}")
        if message.attachments and not self.features & ChannelFeature.ATTACHMENTS:
            raise PermanentDeliveryError(f"{self.kind} cannot send attachments")
        if self.max_text_length is not None and len(message.text) > self.max_text_length:
            raise PermanentDeliveryError(
                f"text is {len(message.text)} characters; {self.kind} allows {self.max_text_length}"
            )
        return await self._send(message)

    @abc.abstractmethod
    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        """The transport call only."""
