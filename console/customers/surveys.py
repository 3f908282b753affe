"""CSAT (1-5) and NPS (0-10) surveys, sent once per conversation after it is resolved.

The question goes out through `send_automated` with buttons (webchat, Telegram); the same text asks
for a typed number, which is what SMS customers send back; email gets a link to a small public page
with a signed token instead. An answer is recorded once: the first valid one wins, later ones and
out-of-range numbers are ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.automated import Button
from lines.console.customers.models import Survey
from lines.console.customers.rollups import count_survey
from lines.console.models import Conversation, Message, utcnow

RANGES = {"csat": (1, 5), "nps": (0, 10)}
TYPED = re.compile(r"^\s*(\d{1,2})\s*(?:/\s*\d{1,2})?\s*[.!]?\s*$")
BUTTON = re.compile(r"^survey:(\d{1,19}):(\d{1,2})$")
QUESTIONS = {
    "csat": "How satisfied are you with our help? Reply with a number from 1 (poor) to 5 (excellent).",
    "nps": "How likely are you to recommend us to a friend? Reply with a number from 0 to 10.",
}
EMAIL_QUESTIONS = {
    "csat": "How satisfied are you with our help? Rate us here: {link}",
    "nps": "How likely are you to recommend us to a friend? Answer here: {link}",
}


class SurveyError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def in_range(kind: str, score: int) -> bool:
    low, high = RANGES[kind]
    return low <= score <= high


def sign(secret: str, survey_id: int) -> str:
    """`<id>.<mac>`: the public page's token; the MAC keys it to this server's secret."""
    mac = hmac.new(secret.encode(), f"survey:{survey_id}".encode(), hashlib.sha256).digest()[:18]
    return f"{survey_id}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def verify(secret: str, token: str) -> int | None:
    survey_id, _, _ = token.partition(".")
    if not survey_id.isdigit() or len(survey_id) > 19:
        return None
    expected = sign(secret, int(survey_id))
    return int(survey_id) if hmac.compare_digest(expected.encode(), token.encode()) else None


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    buttons: tuple[Button, ...]


def question(kind: str, channel: str, survey_id: int, link: str | None) -> Question:
    if channel == "email" and link:
        return Question(EMAIL_QUESTIONS[kind].format(link=link), ())
    low, high = RANGES[kind]
    buttons = tuple(Button(f"survey:{survey_id}:{n}", str(n)) for n in range(low, high + 1))
    return Question(QUESTIONS[kind], buttons)


async def claim_survey(session: AsyncSession, conversation: Conversation, kind: str) -> int | None:
    """A new survey row for the conversation, or None if it already had one (the unique key decides
    between workers)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(Survey)
        .values(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            kind=kind,
            channel=conversation.channel,
            inbox=conversation.inbox,
            sent_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return await session.scalar(select(Survey.id).where(Survey.conversation_id == conversation.id))


async def record_answer(session: AsyncSession, survey_id: int, score: int, via: str) -> Survey:
    """Record the first answer; the caller commits.

    Raises:
        SurveyError: no such survey (404), a score out of range (422), already answered (409).
    """
    survey = await session.get(Survey, survey_id)
    if survey is None:
        raise SurveyError(404, "not_found", "no such survey")
    if not in_range(survey.kind, score):
        low, high = RANGES[survey.kind]
        raise SurveyError(422, "out_of_range", f"score must be from {low} to {high}")
    now = utcnow()
    result = await session.execute(
        update(Survey)
        .where(Survey.id == survey_id, Survey.score.is_(None))
        .values(score=score, answered_at=now, answered_via=via)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise SurveyError(409, "already_answered", "this survey was already answered")
    await session.refresh(survey)
    conversation = await session.get(Conversation, survey.conversation_id)
    assert conversation is not None
    await count_survey(session, survey, conversation)
    return survey


async def answer_in_message(
    session: AsyncSession, message: Message, contact_id: int, answer_hours: float
) -> tuple[int, int, str] | None:
    """(survey id, score, via) when an inbound message answers a survey of this contact: a pressed
    survey button, or a bare number typed on the channel the survey went to, within the window."""
    extra: dict[str, Any] = message.extra or {}
    button = extra.get("button")
    if isinstance(button, dict) and isinstance(button.get("id"), str):
        match = BUTTON.match(button["id"])
        if match is None:
            return None
        survey = await session.get(Survey, int(match.group(1)))
        if survey is None or survey.contact_id != contact_id:
            return None
        return survey.id, int(match.group(2)), "button"
    typed = TYPED.match(message.text or "")
    if typed is None:
        return None
    channel, _, inbox = message.channel_key.partition(":")
    survey = await session.scalar(
        select(Survey)
        .where(
            Survey.contact_id == contact_id,
            Survey.channel == channel,
            Survey.inbox == inbox,
            Survey.score.is_(None),
            Survey.sent_at >= utcnow() - timedelta(hours=answer_hours),
        )
        .order_by(Survey.id.desc())
        .limit(1)
    )
    if survey is None:
        return None
    return survey.id, int(typed.group(1)), "typed"


def survey_dict(survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.id,
        "conversation_id": survey.conversation_id,
        "kind": survey.kind,
        "channel": survey.channel,
        "score": survey.score,
        "answered_via": survey.answered_via,
        "sent_at": survey.sent_at.isoformat(),
        "answered_at": survey.answered_at.isoformat() if survey.answered_at else None,
    }
