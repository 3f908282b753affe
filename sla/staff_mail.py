"""SLA escalation email: rows written with the fire, and the loop that sends them, once.

Exactly once, across workers and restarts:
* a fire is one `sla_events` row, written by exactly one worker; its `staff_mail` rows (one per
  recipient, unique per fire and operator) are written in that same transaction, so a fire that
  happened has its mail queued, and a fire rolled back has none;
* each process's `StaffMailSender` claims due `pending` rows (`FOR UPDATE SKIP LOCKED` on
  PostgreSQL, the single connection on SQLite) and marks them `sending` before it talks to the
  server, so no other worker or later run picks them up again;
* the answer decides the row: `sent`; `pending` with a later `next_attempt_at` for a 4xx or a
  connection problem (exponential backoff, until `max_attempts`); `failed` with the reason for a 5xx;
* a graceful stop lets the mail being sent finish. A row left `sending` past its lease (the
  process was killed mid-conversation with the server) is marked `failed`, not retried: the
  server may already have taken it, and a duplicate is what we promise not to send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lines.channels.base import PermanentDeliveryError, TemporaryDeliveryError
from lines.console.db import SessionMaker
from lines.console.models import Contact, Conversation, Operator, utcnow
from lines.console.periodic import Periodic, stop_task
from lines.console.settings import StaffMailSettings
from lines.mail.smtp import SmtpClient
from lines.sla.mail_text import Escalated, MailText
from lines.sla.models import StaffMail

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
BATCH = 50
UNKNOWN = "the worker stopped while the server had the mail; not retried so that it is never sent twice"


@dataclass(frozen=True)
class Fire:
    """One recorded warning or breach that escalations email about."""

    event_id: int
    policy_id: str
    target: str
    kind: str
    due_at: datetime
    """The target's deadline (for a warning too, not its warning point)."""


class EscalationMail:
    """Writes the mail rows of a fire inside the caller's transaction (`SlaService._update`)."""

    def __init__(self, text: MailText, public_url: str) -> None:
        self._text = text
        self._public_url = public_url

    def link(self, conversation_id: int) -> str:
        return f"{self._public_url}/conversations/{conversation_id}"

    async def queue(
        self, session: AsyncSession, conversation: Conversation, fire: Fire, operator_ids: set[int], now: datetime
    ) -> int:
        """One `pending` row per recipient with an address; returns how many were written."""
        if not operator_ids:
            return 0
        operators = (
            await session.scalars(select(Operator).where(Operator.id.in_(operator_ids)).order_by(Operator.id))
        ).all()
        contact = await session.scalar(select(Contact.name).where(Contact.id == conversation.contact_id))
        escalated = Escalated(
            conversation_id=conversation.id,
            subject=conversation.subject or "",
            customer=contact or f"#{conversation.contact_id}",
            policy=fire.policy_id,
            target=fire.target,
            kind=fire.kind,
            due_at=fire.due_at,
            link=self.link(conversation.id),
        )
        written = 0
        for operator in operators:
            reason = "no email address" if not operator.email else "" if operator.active else "deactivated"
            if reason:
                log.info(
                    "SLA %s (%s) of conversation %s: not emailed to operator %s (%s): %s",
                    fire.kind, fire.target, conversation.id, operator.id, operator.login, reason,
                )  # fmt: skip
                continue
            assert operator.email is not None
            locale = self._text.locale(operator.locale)
            subject, body = self._text.compose(escalated, locale)
            session.add(
                StaffMail(
                    sla_event_id=fire.event_id,
                    operator_id=operator.id,
                    to_address=operator.email,
                    locale=locale,
                    subject=subject,
                    body=body,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            written += 1
        return written


class StaffMailSender(Periodic):
    """Sends due staff mail in one process; see the module docstring for the guarantees."""

    name = "staff-mail"

    def __init__(
        self, sessions: SessionMaker, settings: StaffMailSettings, client: SmtpClient, clock: Clock = utcnow
    ) -> None:
        super().__init__(settings.poll_seconds)
        self._sessions = sessions
        self._settings = settings
        self._client = client
        self._clock = clock
        # Long enough for a whole SMTP conversation, whose every step may take the timeout.
        self.lease = timedelta(seconds=max(60.0, 10 * settings.smtp_timeout_seconds))
        self._domain = settings.from_address.rsplit("@", 1)[-1]
        self._sending: asyncio.Task[int] | None = None

    async def stop(self) -> None:
        """Stop claiming; the batch being sent finishes (within the lease), so nothing is left half-sent."""
        await super().stop()
        sending, self._sending = self._sending, None
        if sending is not None and not sending.done():
            done, _ = await asyncio.wait({sending}, timeout=self.lease.total_seconds())
            if not done:
                await stop_task(sending)

    async def tick(self) -> int:
        """Give up on rows a dead worker left `sending`, claim what is due, send it; returns how many sent."""
        await self.reap()
        rows = await self.claim()
        if not rows:
            return 0
        # Shielded: cancelling the loop (a graceful stop) must not cut a mail off mid-transaction.
        self._sending = asyncio.ensure_future(self._send_all(rows))
        return await asyncio.shield(self._sending)

    async def reap(self) -> int:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(StaffMail)
                .where(StaffMail.status == "sending", StaffMail.lease_until < now)
                .values(status="failed", last_error=UNKNOWN, lease_until=None)
                .returning(StaffMail.id)
            )
            ids = list(result.scalars().all())
        for mail_id in ids:
            log.warning("staff mail %s: %s", mail_id, UNKNOWN)
        return len(ids)

    async def claim(self) -> list[StaffMail]:
        """Due rows, now `sending` under this worker's lease; another worker skips the locked ones."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            rows = list(
                (
                    await session.scalars(
                        select(StaffMail)
                        .where(StaffMail.status == "pending", StaffMail.next_attempt_at <= now)
                        .order_by(StaffMail.next_attempt_at, StaffMail.id)
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for row in rows:
                row.status = "sending"
                row.attempts += 1
                row.lease_until = now + self.lease
        return rows

    async def _send_all(self, rows: list[StaffMail]) -> int:
        sent = 0
        for row in rows:
            sent += await self._send_one(row)
        return sent

    async def _send_one(self, row: StaffMail) -> int:
        try:
            mail = self.build(row)
        except (ValueError, TypeError) as err:  # a header the email package refuses: no attempt helps
            log.warning("staff mail %s to %s cannot be built: %s", row.id, row.to_address, err)
            await self._finish(row, "failed", f"cannot build the message: {err}")
            return 0
        try:
            await self._client.send(mail)
        except TemporaryDeliveryError as err:
            await self._retry_or_fail(row, str(err))
            return 0
        except PermanentDeliveryError as err:
            log.warning("staff mail %s to %s failed: %s", row.id, row.to_address, err)
            await self._finish(row, "failed", str(err))
            return 0
        await self._finish(row, "sent", None)
        return 1

    def build(self, row: StaffMail) -> EmailMessage:
        settings = self._settings
        mail = EmailMessage()
        mail["From"] = formataddr((settings.from_name, settings.from_address))
        mail["To"] = row.to_address
        mail["Subject"] = row.subject
        mail["Date"] = format_datetime(self._clock())
        # One id per row, the same on every attempt.
        mail["Message-ID"] = f"<lines-staff-mail-{row.id}@{self._domain}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
        mail["X-Lines-Staff-Mail"] = str(row.id)
        mail.set_content(row.body)
        return mail

    async def _retry_or_fail(self, row: StaffMail, error: str) -> None:
        settings = self._settings
        if row.attempts >= settings.max_attempts:
            log.warning("staff mail %s to %s failed after %s attempts: %s", row.id, row.to_address, row.attempts, error)
            await self._finish(row, "failed", f"gave up after {row.attempts} attempts: {error}")
            return
        delay = min(settings.backoff_base_seconds * 2 ** (row.attempts - 1), settings.backoff_max_seconds)
        log.info("staff mail %s to %s: %s; retrying in %.0f s", row.id, row.to_address, error, delay)
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(StaffMail)
                .where(StaffMail.id == row.id, StaffMail.status == "sending")
                .values(
                    status="pending",
                    next_attempt_at=self._clock() + timedelta(seconds=delay),
                    lease_until=None,
                    last_error=error,
                )
            )

    async def _finish(self, row: StaffMail, status: str, error: str | None) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(StaffMail)
                .where(StaffMail.id == row.id, StaffMail.status == "sending")
                .values(
                    status=status,
                    lease_until=None,
                    last_error=error,
                    sent_at=self._clock() if status == "sent" else None,
                )
            )
