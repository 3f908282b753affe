"""SQLAlchemy 2 models: plain data, no transport code, relationships never lazy-load.

The same schema runs on SQLite (embedded mode) and PostgreSQL (scaled mode); Alembic migrations in
`migrations/` create it, and a test checks that migrations and these models agree.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite's INTEGER PRIMARY KEY is its 64-bit rowid; BIGINT would lose autoincrement there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes everywhere: SQLite stores naive values, so re-attach UTC on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(enum.StrEnum):
    OPERATOR = "operator"
    LEAD = "lead"
    ADMIN = "admin"


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Status(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"
    NOTE = "note"
    SYSTEM = "system"


class AuthorKind(enum.StrEnum):
    CONTACT = "contact"
    OPERATOR = "operator"
    BOT = "bot"
    SYSTEM = "system"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"


def _enum(e: type[enum.StrEnum]) -> String:
    # Stored as plain strings: portable across SQLite and PostgreSQL, values checked in code.
    return String(max(len(m.value) for m in e) + 4)


operator_teams = Table(
    "operator_teams",
    Base.metadata,
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    # Whether an operator taking a chat themselves is held to their capacity too (routing always is).
    respect_capacity: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(_enum(Role), default=Role.OPERATOR)
    skills: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    capacity: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    presence: Mapped[str] = mapped_column(_enum(Presence), default=Presence.OFFLINE)
    presence_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locale: Mapped[str | None] = mapped_column(String(8))
    # Where staff mail (SLA escalations) goes; none: the console notification only.
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When routing last gave this operator a conversation (round robin and longest idle order by it).
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    teams: Mapped[list[Team]] = relationship(secondary=operator_teams, lazy="raise", order_by=Team.name)


class PresenceChange(Base):
    """Each change of an operator's presence, kept so that the what-if simulator can replay who was
    online when (the operator row holds only the current presence)."""

    __tablename__ = "presence_changes"
    __table_args__ = (Index("ix_presence_changes_operator_id_at", "operator_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    presence: Mapped[str] = mapped_column(_enum(Presence))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuthSession(Base):
    """A login: bearer token (API) or cookie session (browser). Only the token's hash is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    identities: Mapped[list[ContactIdentity]] = relationship(
        back_populates="contact", lazy="raise", order_by="ContactIdentity.id"
    )


class ContactIdentity(Base):
    """How one contact is known on one channel: (channel kind, inbox, external id) is unique."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("channel", "inbox", "external_id", name="uq_identity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    inbox: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    display: Mapped[str] = mapped_column(String(300), default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether we may write to this identity: `active`, or `opted_out` (SMS STOP), `unreachable`
    # (a Telegram user blocked the bot), `blocked` (an operator blocked the user). The outbox refuses
    # to send to anything but `active` and tells the operator why.
    state: Mapped[str] = mapped_column(String(16), default="active")
    state_reason: Mapped[str] = mapped_column(Text, default="")
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identities", lazy="raise")


class ChannelState(Base):
    """An adapter's cursor kept in the store (IMAP UIDVALIDITY and last UID, a polling offset)."""

    __tablename__ = "channel_state"

    channel_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_contact_channel", "contact_id", "channel", "inbox", "status"),
        Index("ix_conversations_team_status", "team_id", "status", "last_message_at"),
        Index("ix_conversations_assignee_status", "assignee_id", "status", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The identity the customer wrote from: every message of this conversation goes to it and only
    # to it, whatever other identities the contact gains on the channel (a merge, a shared phone).
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("contact_identities.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    inbox: Mapped[str] = mapped_column(String(64))
    external_thread_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(_enum(Status), default=Status.OPEN)
    lead_type: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_inbound_message_id: Mapped[int | None] = mapped_column(BigId)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # `answering` while the bot holds the conversation (routing waits), `handed_off` once it gave it
    # to routing, null when the bot never took part.
    bot_state: Mapped[str | None] = mapped_column(String(16))
    # The nearest SLA deadline and the state of the conversation's SLA (`ok`, `warning`, `breached`,
    # `paused`, `met`), kept by the SLA part; routing orders its queue by `sla_due_at`.
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    sla_state: Mapped[str | None] = mapped_column(String(16))
    # When the current assignee got the conversation (routing's reply-by clock starts here).
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    contact: Mapped[Contact] = relationship(lazy="raise")
    assignee: Mapped[Operator | None] = relationship(lazy="raise")
    team: Mapped[Team | None] = relationship(lazy="raise")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Idempotent ingest: the same inbound (channel + inbox + provider id) is stored once.
        UniqueConstraint("channel_key", "external_id", name="uq_message_external"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel_key: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(_enum(Direction))
    author_kind: Mapped[str] = mapped_column(_enum(AuthorKind))
    author_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(255))
    delivery_status: Mapped[str] = mapped_column(_enum(DeliveryStatus))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # An inbound message a machine sent (`channels.base.Automatic`: auto_reply, bulk, list, bounce,
    # loop, noreply...); null for a person. Nothing automatic is ever sent in answer to one.
    automatic: Mapped[str | None] = mapped_column(String(16))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the customer edited the message; earlier versions are in `message_revisions`.
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attachments: Mapped[list[Attachment]] = relationship(lazy="raise", order_by="Attachment.id")


class Attachment(Base):
    """A file under the data directory; `token` makes its URL unguessable, access is still checked."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    # The safe name it is stored and downloaded under (console/storage.py::safe_filename) ...
    filename: Mapped[str] = mapped_column(String(255))
    # ... and the name the customer gave it, shown to operators (None when it is the same).
    original_filename: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str | None] = mapped_column(String(500))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    stored: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def display_name(self) -> str:
        """What operators see: the customer's own name for the file."""
        return self.original_filename or self.filename


class ConversationRead(Base):
    """How far an operator has read a conversation: drives the inbox's unread marks."""

    __tablename__ = "conversation_reads"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    last_read_message_id: Mapped[int] = mapped_column(BigId)


class OutboxItem(Base):
    """A reply waiting for its channel adapter. Survives restarts; claimed by compare-and-set."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    inbox: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MessageRevision(Base):
    """An earlier version of an edited message: the original and each version an edit replaced.

    `external_id` is the provider's id of the edit that replaced this version; with `channel_key` it
    makes an edit delivered twice count once.
    """

    __tablename__ = "message_revisions"
    __table_args__ = (UniqueConstraint("channel_key", "external_id", name="uq_message_revision_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    channel_key: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
