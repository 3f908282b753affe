"""The change processor of this part: surveys after resolution, survey answers, auto-acknowledgements,
and the report rollups."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from sqlalchemy import update

from lines.console.automated import may_send_automated, send_automated
from lines.console.changes import ChangeJob, Inbound, StatusChanged
from lines.console.customers.auto_ack import AckTemplates
from lines.console.customers.models import Survey
from lines.console.customers.rollups import Rollups, claim_fact
from lines.console.customers.surveys import SurveyError, answer_in_message, claim_survey, question, record_answer, sign
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inbox import load_conversation
from lines.console.models import AuthorKind, Contact, Conversation, Message, Status, utcnow
from lines.console.serialize import conversation_dict
from lines.console.settings import Settings
from lines.console.templating import render

log = logging.getLogger(__name__)


class CustomerProcessor:
    def __init__(self, settings: Settings, sessions: SessionMaker, events: Events, wake_outbox: Any) -> None:
        self._settings = settings
        self._sessions = sessions
        self._events = events
        self._wake = wake_outbox
        self._ack = AckTemplates(settings)
        self.rollups = Rollups(sessions)

    async def __call__(self, job: ChangeJob) -> None:
        handler = HANDLERS.get(type(job))
        try:
            if handler is not None:
                await handler(self, job)
        except Exception:
            log.exception("customers: %s job failed", job.kind)
        await self.rollups(job)

    async def _status(self, job: StatusChanged) -> None:
        if job.status == Status.RESOLVED:
            await self.send_survey(job.conversation_id)

    async def _inbound(self, job: Inbound) -> None:
        message_id, conversation_id = job.message_id, job.conversation_id
        settings = self._settings.customers
        async with self._sessions() as session, session.begin():
            message = await session.get(Message, message_id)
            conversation = await session.get(Conversation, conversation_id)
            if message is None or conversation is None:
                return
            found = await answer_in_message(session, message, conversation.contact_id, settings.survey_answer_hours)
            is_answer = found is not None and await self._record(session, message_id, *found)
            # An answer after resolution arrives as a conversation of its own: close it at once.
            closed = is_answer and job.conversation_created
            if closed:
                await self._close_answer_conversation(session, conversation)
            contact = await session.get(Contact, conversation.contact_id)
            template = self._ack.template(conversation.channel, conversation.inbox)
            send_ack = bool(
                template
                and job.conversation_created
                and not is_answer
                and not (message.extra or {}).get("unreadable")  # no sender we could trust
                and await may_send_automated(session, conversation, message)
                and await claim_fact(session, conversation.id, "auto_ack")
            )
            values = {
                "contact.name": (contact.name or contact.email or "") if contact else "",
                "conversation.number": conversation.id,
                "conversation.subject": conversation.subject,
            }
        if closed:
            async with self._sessions() as session:
                fresh = await load_conversation(session, conversation_id)
            if fresh is not None:
                await self._events.send("conversation.updated", conversation_dict(fresh), Audience.of(fresh))
        if send_ack and template:  # send_ack implies a template; this says so to the type checker
            await send_automated(
                self._sessions,
                self._events,
                self._wake,
                conversation_id,
                render(template, values),
                author_kind=AuthorKind.SYSTEM,
                extra={"auto_ack": True},
            )

    @staticmethod
    async def _record(session: Any, message_id: int, survey_id: int, score: int, via: str) -> bool:
        """Record the answer; True when the message was meant as one (also a repeated answer or a
        button press that came too late), False for a typed number out of range (left as a message)."""
        try:
            await record_answer(session, survey_id, score, via)
        except SurveyError as err:
            log.info("survey answer in message %s not recorded: %s", message_id, err.message)
            return err.code != "out_of_range" or via == "button"
        return True

    async def _close_answer_conversation(self, session: Any, conversation: Conversation) -> None:
        """A survey answer after resolution arrives as a new conversation: close it at once and keep
        it out of the volume counts (it is an answer, not a request)."""
        now = utcnow()
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(status=Status.RESOLVED, resolved_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        for fact in ("created", "first_response", "resolved", "survey_sent"):
            await claim_fact(session, conversation.id, fact)

    async def send_survey(self, conversation_id: int) -> int | None:
        """Ask once per conversation; returns the survey id, or None when not asked."""
        kind = self._settings.customers.survey
        if kind == "off":
            return None
        async with self._sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.status != Status.RESOLVED:
                return None
            if not await may_send_automated(session, conversation):
                return None
            if not await claim_fact(session, conversation.id, "survey_sent"):
                return None
            survey_id = await claim_survey(session, conversation, kind)
            channel = conversation.channel
        if survey_id is None:
            return None
        link = None
        base = self._settings.server.public_url.rstrip("/")
        if channel == "email" and base:
            secret = self._settings.server.secret_key.get_secret_value()
            link = f"{base}/survey/{sign(secret, survey_id)}"
        asked = question(kind, channel, survey_id, link)
        message_id = await send_automated(
            self._sessions,
            self._events,
            self._wake,
            conversation_id,
            asked.text,
            author_kind=AuthorKind.SYSTEM,
            buttons=asked.buttons,
            extra={"survey": {"id": survey_id, "kind": kind}},
        )
        if message_id is not None:
            async with self._sessions() as session, session.begin():
                await session.execute(update(Survey).where(Survey.id == survey_id).values(message_id=message_id))
        return survey_id


Handler: TypeAlias = Callable[[CustomerProcessor, Any], Awaitable[None]]
HANDLERS: Mapping[type[ChangeJob], Handler] = {
    Inbound: CustomerProcessor._inbound,
    StatusChanged: CustomerProcessor._status,
}
