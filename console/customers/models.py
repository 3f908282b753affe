"""Tables of this part, on the core's `Base` so that Alembic and the tests see one metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lines.console.models import Base, BigId, JSONType, UTCDateTime, utcnow


class ContactMerge(Base):
    """The undo record of one merge: who merged what, and what moved, so unmerge can put it back."""

    __tablename__ = "contact_merges"
    __table_args__ = (Index("ix_contact_merges_merged_active", "merged_id", "undone_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kept_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    merged_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    # {"identity_ids": [...], "conversation_ids": [...], "merged": {fields}, "kept": {fields before}}
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))


class ContactNote(Base):
    __tablename__ = "contact_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AttributeDefinition(Base):
    """A typed custom attribute of contacts: `text`, `number`, `date` or `choice` (with `choices`)."""

    __tablename__ = "contact_attribute_defs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CannedResponse(Base):
    """A saved reply typed as `/shortcut`: personal (`owner_id`) or shared with a team (`team_id`)."""

    __tablename__ = "canned_responses"
    __table_args__ = (Index("ix_canned_responses_owner_team", "owner_id", "team_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Survey(Base):
    """One CSAT or NPS survey per conversation (the unique key makes "once" hold across workers)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    inbox: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(BigId)
    score: Mapped[int | None] = mapped_column(Integer)
    answered_via: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FollowUp(Base):
    """A reminder on a conversation: fires as a console notification and reopens it if snoozed."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_due", "fired_at", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportFact(Base):
    """A fact already counted into the rollups (`created`, `first_response`, `resolved`, `survey`):
    the unique key makes a redelivered change job count once."""

    __tablename__ = "report_facts"
    __table_args__ = (UniqueConstraint("conversation_id", "fact", name="uq_report_fact"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    fact: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReportCounter(Base):
    """Incremental rollup: per UTC day, dimension (`all`, `channel`, `team`, ...), key and metric, a
    count and a sum. Reports read only these rows, never the message tables."""

    __tablename__ = "report_counters"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)


class Signature(Base):
    """A signature for replies: one per operator (`operator_id`) or per team (`team_id`)."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DuplicateDismissal(Base):
    """A pair a person reviewed and said is not one customer: the duplicates queue leaves it out.

    The pair is stored lower id first, so (a, b) and (b, a) are one row."""

    __tablename__ = "duplicate_dismissals"

    low_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    high_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    dismissed_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
