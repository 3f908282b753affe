"""Applies conversation changes to SLA clocks, fires warnings and breaches once, escalates.

`do_*`-style shape: every change runs in one transaction that locks the conversation row, updates
the clocks, records what fired (`sla_events`, unique per target/kind/cycle, so a second worker
firing the same timer inserts nothing), and writes `sla_due_at`/`sla_state` on the conversation;
only after the commit are events published and escalations handed to routing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.changes import Requeue
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.models import (
    AuthorKind,
    Contact,
    Conversation,
    Message,
    Operator,
    Role,
    Status,
    operator_teams,
    utcnow,
)
from lines.sla import clocks as clk
from lines.sla.models import ConversationSla, SlaEvent, SlaPolicyDocument
from lines.sla.policies import PRIORITY_ORDER, Policy, PolicySet, load_seed
from lines.sla.staff_mail import EscalationMail, Fire

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass
class Outcome:
    """What one update decided, acted on after the commit."""

    conversation_id: int
    team_id: int | None = None
    assignee_id: int | None = None
    policy_id: str | None = None
    state: str | None = None
    due_at: datetime | None = None
    next_fire_at: datetime | None = None
    fired: list[dict[str, Any]] = field(default_factory=list)
    requeue: list[Requeue] = field(default_factory=list)
    changed: bool = False
    """`sla_state` or `sla_due_at` of the conversation differ from before the update."""


class SlaService:
    """The SLA part's engine; one per process, shared by the change processor and the timer loop."""

    def __init__(self, sessions: SessionMaker, events: Events, clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._events = events
        self.clock = clock
        self.policies: PolicySet | None = None
        self._version = 0
        # Set by the timer loop: indexes each conversation's next timer (Redis in scaled mode).
        self.scheduler: Callable[[int, datetime | None], Awaitable[None]] | None = None
        # Set when `[notifications.email]` is configured: queues escalation mail with each fire.
        self.mail: EscalationMail | None = None

    async def load_policies(self, seed_file: str = "") -> PolicySet:
        """The stored document, seeded from `seed_file` (or config/sla.json) on first start."""
        try:
            async with self._sessions() as session, session.begin():
                row = await session.get(SlaPolicyDocument, 1)
                if row is None:
                    row = SlaPolicyDocument(id=1, document=load_seed(seed_file), version=1, updated_at=self.clock())
                    session.add(row)
                document, version = row.document, row.version
        except IntegrityError:  # another worker seeded it at the same moment
            async with self._sessions() as session:
                row = await session.get(SlaPolicyDocument, 1)
                assert row is not None
                document, version = row.document, row.version
        self.policies = PolicySet.parse(document)
        self._version = version
        return self.policies

    async def refresh_policies(self) -> bool:
        """Reload when another process saved a new document; True when it changed."""
        async with self._sessions() as session:
            version = await session.scalar(select(SlaPolicyDocument.version).where(SlaPolicyDocument.id == 1))
        if version is None or version == self._version:
            return False
        await self.load_policies()
        return True

    @property
    def version(self) -> int:
        """The version of the document this process matches conversations with."""
        return self._version

    async def save_policies(self, policies: PolicySet, operator_id: int | None) -> int:
        """Store a validated document and, in the same transaction, the marker that makes the
        recompute job (`sla/recompute.py`) re-match every open conversation; returns the version.

        A document saved while an earlier recompute runs restarts it from the first conversation.
        """
        async with self._sessions() as session, session.begin():
            row = await session.get(SlaPolicyDocument, 1, with_for_update=True)
            document = policies.document.model_dump(mode="json", exclude_none=True)
            if row is None:
                row = SlaPolicyDocument(id=1, document=document, version=1)
                session.add(row)
            else:
                row.document = document
                row.version += 1
            row.updated_by = operator_id
            row.updated_at = self.clock()
            row.recompute_version = row.version
            row.recompute_cursor = 0
            row.recompute_owner = None
            row.recompute_lease_until = None
            version = row.version
        self.policies = policies
        self._version = version
        return version

    async def recompute_batch(self, after_id: int, limit: int) -> list[int]:
        """Re-match and recompute the next `limit` unresolved conversations with ids above
        `after_id`, quietly; returns their ids (fewer than `limit`: that was the last batch).
        Idempotent: recomputing a conversation twice under one document gives the same deadlines."""
        async with self._sessions() as session:
            ids = list(
                (
                    await session.scalars(
                        select(Conversation.id)
                        .where(Conversation.status != Status.RESOLVED, Conversation.id > after_id)
                        .order_by(Conversation.id)
                        .limit(limit)
                    )
                ).all()
            )
        for conversation_id in ids:
            await self.update(conversation_id, rematch=True, quiet=True)
        return ids

    async def recompute_all(self, batch: int = 500) -> int:
        """Every unresolved conversation at once (tests, tools); the app uses the recompute job."""
        total, last = 0, 0
        while ids := await self.recompute_batch(last, batch):
            total, last = total + len(ids), ids[-1]
            if len(ids) < batch:
                break
        return total

    async def update(
        self,
        conversation_id: int,
        *,
        inbound_message_id: int | None = None,
        reply_message_id: int | None = None,
        author: str | None = None,
        rematch: bool = False,
        quiet: bool = False,
    ) -> Outcome | None:
        """Bring one conversation's clocks up to date, fire what is due, then announce it.

        `quiet` skips the `sla.updated` event (a bulk recompute announces itself once at the end);
        warnings and breaches are announced regardless."""
        assert self.policies is not None, "load_policies() first"
        async with self._sessions() as session, session.begin():
            outcome = await self._update(
                session, conversation_id, inbound_message_id, reply_message_id, author, rematch
            )
        if outcome is not None:
            await self._announce(outcome, quiet)
            if self.scheduler is not None:
                await self.scheduler(conversation_id, outcome.next_fire_at)
        return outcome

    async def _update(
        self,
        session: AsyncSession,
        conversation_id: int,
        inbound_message_id: int | None,
        reply_message_id: int | None,
        author: str | None,
        rematch: bool,
    ) -> Outcome | None:
        policies = self.policies
        assert policies is not None
        conversation = await session.scalar(
            select(Conversation).where(Conversation.id == conversation_id).with_for_update()
        )
        if conversation is None:
            return None
        before = (conversation.sla_state, conversation.sla_due_at)
        now = self.clock()
        record = await session.get(ConversationSla, conversation_id)
        policy: Policy | None
        if record is None or rematch:
            tags = await session.scalar(select(Contact.tags).where(Contact.id == conversation.contact_id)) or []
            policy = policies.match(conversation.lead_type, conversation.channel, conversation.priority, list(tags))
            if record is None:
                record = ConversationSla(
                    conversation_id=conversation_id,
                    clocks=clk.new_clocks(conversation.created_at, "open"),
                    deadlines={},
                    state="ok",
                    breached=False,
                )
                session.add(record)
            record.policy_id = policy.id if policy else None
        else:
            policy = policies.policy(record.policy_id)
        outcome = Outcome(conversation_id, conversation.team_id, conversation.assignee_id, record.policy_id)
        if policy is None:
            record.deadlines, record.state, record.next_fire_at = {}, "ok", None
            conversation.sla_due_at, conversation.sla_state = None, None
            outcome.changed = before != (None, None)
            return outcome
        calendar = policies.calendar(policy)
        clocks = _copy(record.clocks)
        if inbound_message_id is not None:
            clk.customer_message(clocks, min(await _message_time(session, inbound_message_id, now), now))
        if reply_message_id is not None and _counts(author, policy):
            clk.reply(clocks, min(await _message_time(session, reply_message_id, now), now))
        clk.status_change(clocks, conversation.status, now, calendar)
        derived = clk.derive(clocks, policy, calendar, conversation.status, now)
        for target, kind, due, cycle in derived.to_fire:
            clk.mark_fired(clocks, target, kind)
            event_id = await _record_fire(session, conversation_id, policy.id, target, kind, cycle, due, now)
            if event_id is not None:
                notify, email = await self._escalate(session, conversation, policy, target, kind, outcome)
                if email and self.mail is not None:
                    # A warning's own time is its warning point; the mail tells the deadline.
                    deadline = derived.deadlines.get(target, {}).get("due_at")
                    deadline_at = datetime.fromisoformat(deadline) if deadline else due
                    fire = Fire(event_id, policy.id, target, kind, deadline_at)
                    await self.mail.queue(session, conversation, fire, email, now)
                outcome.fired.append({"target": target, "kind": kind, "due_at": due.isoformat(), "notify": notify})
        if derived.to_fire:
            derived = clk.derive(clocks, policy, calendar, conversation.status, now)
        record.clocks = clocks
        record.deadlines = derived.deadlines
        record.breached = record.breached or any(f["kind"] == "breached" for f in outcome.fired)
        record.state = derived.state
        record.next_fire_at = derived.next_fire_at
        record.updated_at = now
        conversation.sla_state = derived.state
        conversation.sla_due_at = derived.due_at
        outcome.state, outcome.due_at, outcome.next_fire_at = derived.state, derived.due_at, derived.next_fire_at
        outcome.team_id, outcome.assignee_id = conversation.team_id, conversation.assignee_id
        outcome.changed = before != (derived.state, derived.due_at)
        return outcome

    async def _escalate(
        self,
        session: AsyncSession,
        conversation: Conversation,
        policy: Policy,
        target: str,
        kind: str,
        outcome: Outcome,
    ) -> tuple[list[int], set[int]]:
        """Apply the policy's escalations for this fire; returns whom to notify in the console,
        and whom of them also by email (rules without `"email": false`)."""
        notify: set[int] = set()
        email: set[int] = set()
        for rule in policy.escalations:
            if rule.on != kind or (rule.target is not None and rule.target != target):
                continue
            named: set[int] = set()
            if "assignee" in rule.notify and conversation.assignee_id is not None:
                named.add(conversation.assignee_id)
            if "lead" in rule.notify:
                named.update(await _team_leads(session, conversation.team_id))
            notify |= named
            if rule.email is not False:
                email |= named
            if rule.raise_priority:
                position = PRIORITY_ORDER.index(conversation.priority) if conversation.priority in PRIORITY_ORDER else 1
                conversation.priority = PRIORITY_ORDER[min(position + 1, len(PRIORITY_ORDER) - 1)]
            if rule.reassign:
                team = None if rule.reassign == "team" else rule.reassign
                outcome.requeue.append(Requeue(conversation.id, f"sla_{kind}:{target}", team))
        return sorted(notify), email

    async def _announce(self, outcome: Outcome, quiet: bool = False) -> None:
        audience = Audience(team_id=outcome.team_id, assignee_id=outcome.assignee_id)
        sla: dict[str, Any] | None = None
        if outcome.state is not None:
            sla = {"state": outcome.state, "due_at": outcome.due_at.isoformat() if outcome.due_at else None}
        # The conversation's own events are published before this part has run on the change, so
        # a new deadline (or a met one) follows as `sla.updated`; consoles tick countdowns themselves.
        if outcome.changed and not outcome.fired and not quiet:
            data = {"conversation_id": outcome.conversation_id, "policy_id": outcome.policy_id, "sla": sla}
            await self._events.send("sla.updated", data, audience)
        for fired in outcome.fired:
            notify = fired.pop("notify")
            data = {"conversation_id": outcome.conversation_id, "policy_id": outcome.policy_id, **fired, "sla": sla}
            await self._events.send(f"sla.{fired['kind']}", data, audience)
            if notify:
                notice = {**data, "kind": f"sla.{fired['kind']}"}
                await self._events.send("notification", notice, Audience(operator_ids=tuple(notify)))
        for job in outcome.requeue:
            await self._events.change(job)


def _copy(clocks: dict[str, Any]) -> dict[str, Any]:
    # A fresh structure, so that SQLAlchemy sees the JSON column change.
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in clocks.items()}


def _counts(author: str | None, policy: Policy) -> bool:
    """Human replies stop the clocks; bot replies only when the policy says so; system never."""
    return author == AuthorKind.OPERATOR or (author == AuthorKind.BOT and policy.count_bot_replies)


async def _message_time(session: AsyncSession, message_id: int | None, default: datetime) -> datetime:
    if message_id is None:
        return default
    at = await session.scalar(select(Message.created_at).where(Message.id == message_id))
    return at or default


async def _team_leads(session: AsyncSession, team_id: int | None) -> list[int]:
    query = select(Operator.id).where(Operator.role == Role.LEAD, Operator.active.is_(True))
    if team_id is not None:
        query = query.join(operator_teams, operator_teams.c.operator_id == Operator.id).where(
            operator_teams.c.team_id == team_id
        )
    return list((await session.scalars(query)).all())


async def _record_fire(
    session: AsyncSession,
    conversation_id: int,
    policy_id: str,
    target: str,
    kind: str,
    cycle: str,
    due: datetime,
    now: datetime,
) -> int | None:
    """Insert the fire once: its id, or None when it was already recorded (by this or another worker)."""
    values = {
        "conversation_id": conversation_id,
        "policy_id": policy_id,
        "target": target,
        "kind": kind,
        "cycle": cycle,
        "due_at": due,
        "fired_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = pg_insert(SlaEvent).values(**values).on_conflict_do_nothing().returning(SlaEvent.id)
    elif dialect == "sqlite":
        statement = sqlite_insert(SlaEvent).values(**values).on_conflict_do_nothing().returning(SlaEvent.id)
    else:  # pragma: no cover - the two supported databases are above
        statement = insert(SlaEvent).values(**values).returning(SlaEvent.id)
    event_id: int | None = await session.scalar(statement)
    return event_id
