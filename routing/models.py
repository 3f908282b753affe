"""Tables of this part, on the core's `Base` so that Alembic and the tests see one metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lines.console.models import Base, BigId, JSONType, UTCDateTime, utcnow


class RoutingRulesVersion(Base):
    """One published version of the routing rules; the highest id is live. Never updated."""

    __tablename__ = "routing_rules_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoutingDecision(Base):
    """Why a conversation went to an operator (or back to the queue): the explanation a lead opens."""

    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(32))
    lead_type: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    rules_version: Mapped[int | None] = mapped_column(Integer)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoutingQueueNotice(Base):
    """The queue position a waiting customer was last told, so they are told again only on a big move."""

    __tablename__ = "routing_queue_notices"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    told_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
