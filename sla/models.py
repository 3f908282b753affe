"""Tables of this part, on the core's `Base` so that Alembic and the tests see one metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from lines.console.models import Base, BigId, JSONType, UTCDateTime, utcnow


class SlaPolicyDocument(Base):
    """The one policy document (calendars + policies), edited through `PUT /api/v1/sla/policies`."""

    __tablename__ = "sla_policy_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The recompute marker, written in the same transaction as a new document: the version whose
    # deadlines are still being recomputed (null when done), how far (conversation id), and which
    # worker holds it until when (sla/recompute.py).
    recompute_version: Mapped[int | None] = mapped_column(Integer)
    recompute_cursor: Mapped[int] = mapped_column(BigId, default=0, server_default=text("0"))
    recompute_owner: Mapped[str | None] = mapped_column(String(32))
    recompute_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recomputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConversationSla(Base):
    """A conversation's SLA clocks. `clocks` holds, per target, what the deadlines derive from
    (start times, working time already spent, met times, fired flags); due and warning times are
    derived from it and the policy, so a policy change only needs a recompute. `next_fire_at` is the
    nearest warning or deadline still to fire: the durable timer."""

    __tablename__ = "conversation_sla"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[str | None] = mapped_column(String(64))
    clocks: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="ok")
    breached: Mapped[bool] = mapped_column(default=False)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SlaEvent(Base):
    """A fired warning or breach. The unique key makes each fire happen once across all workers;
    the rows feed the lead report ("breaches today")."""

    __tablename__ = "sla_events"
    __table_args__ = (
        UniqueConstraint("conversation_id", "target", "kind", "cycle", name="uq_sla_event"),
        Index("ix_sla_events_kind_fired_at", "kind", "fired_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    policy_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    # Which run of the clock: "" for first response and resolution, the start time for next response.
    cycle: Mapped[str] = mapped_column(String(40), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffMail(Base):
    """One escalation email to one operator, written in the transaction that records the fire.

    Unique per (fire, operator), so a fire yields each recipient one row at most; the sender
    (`sla/staff_mail.py`) claims due `pending` rows, marks them `sending` while it talks to the
    server, then `sent`, `pending` again with a later `next_attempt_at` (temporary failure) or
    `failed` with the reason."""

    __tablename__ = "staff_mail"
    __table_args__ = (
        UniqueConstraint("sla_event_id", "operator_id", name="uq_staff_mail_event_operator"),
        Index("ix_staff_mail_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sla_event_id: Mapped[int] = mapped_column(BigId, ForeignKey("sla_events.id", ondelete="CASCADE"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
