"""The assigner: classify a conversation, pick an operator, write the assignment exactly once.

Exactly once, on both stores:
- PostgreSQL (several `lines serve` workers): the conversation row is locked `FOR UPDATE SKIP
  LOCKED`, so one worker decides per conversation and the others skip it; the chosen operator's row
  is locked `FOR UPDATE` and their load recounted under that lock before writing, so two workers
  giving two conversations to one operator serialise and the second sees the first's assignment.
- SQLite (embedded, one process): the engine has one pooled connection, so each routing
  transaction runs alone from its first read to its commit.
The write itself only fills an empty assignee (or replaces the one named, for reply-by), so even a
lost lock would never produce two assignees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Select, Table, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from lines.console.automated import may_send_automated, send_automated
from lines.console.changes import Assigned
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inbox import channel_key, load_conversation
from lines.console.models import (
    AuthorKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Operator,
    Status,
    Team,
    utcnow,
)
from lines.console.serialize import conversation_dict
from lines.console.templating import render
from lines.console.touchpoint import touchpoint_fields
from lines.routing.choose import Candidate, Choice, choose
from lines.routing.classify import IsOpen, Subject, always_open, classify
from lines.routing.head import Head, read_head, sticky_operator
from lines.routing.models import RoutingDecision, RoutingQueueNotice, RoutingRulesVersion
from lines.routing.pool import BUSY, claim, load_pool, operator_load  # noqa: F401  (BUSY: re-exported)
from lines.routing.rules import Route, Rules, channel_kind, parse_rules

log = logging.getLogger(__name__)

MAX_QUEUE_SCAN = 100_000
QUEUE_PAGE = 500
"""`serve_queue` reads the queue a page at a time: a release usually places someone near the head."""
QUEUE_PAGE_OVERLAP = 50
MAX_PICKS = 8
"""Picks one decision tries: a pick may turn out full under the lock, or held by another worker."""
PRIORITY_ORDER = case(
    {"urgent": 0, "high": 1, "normal": 2, "low": 3},
    value=Conversation.priority,
    else_=2,
)


ARRIVAL_GRACE = timedelta(seconds=60)
"""A conversation routing has not classified yet (no lead type) is left to its own `inbound` job for
this long (the customer part may close it as a survey answer, the bot may take it); after that the
queue takes it anyway, in case the job was lost."""
# Core statements on the mapped tables: they leave the session's objects alone.
OPERATORS = cast(Table, Operator.__table__)
QUEUE_NOTICES = cast(Table, RoutingQueueNotice.__table__)


def waiting_query() -> Select[int]:
    """Ids of conversations waiting for an operator, in serving order: priority, SLA urgency, age."""
    return (
        select(Conversation.id)
        .where(
            Conversation.status == Status.OPEN,
            Conversation.assignee_id.is_(None),
            or_(Conversation.bot_state.is_(None), Conversation.bot_state != "answering"),
        )
        .order_by(
            PRIORITY_ORDER,
            Conversation.sla_due_at.is_(None),
            Conversation.sla_due_at,
            Conversation.created_at,
            Conversation.id,
        )
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    conversation_id: int
    operator_id: int | None
    reason: str
    lead_type: str | None = None
    team: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)


async def has_room(
    session: AsyncSession, operator: Operator, channel: str, *, unset_is_unlimited: bool = False
) -> bool:
    """Whether `operator` may take one more conversation on `channel` (locks their row on PostgreSQL).

    Routing treats a capacity that is not set as 0; manual assignment (`unset_is_unlimited`) as no limit."""
    kind = channel_kind(channel)
    capacity = (operator.capacity or {}).get(kind)
    if capacity is None and unset_is_unlimited:
        return True
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Operator.id).where(Operator.id == operator.id).with_for_update())
    return await operator_load(session, operator.id, kind) < int(capacity or 0)


async def has_room_for_manual(session: AsyncSession, operator: Operator, channel: str) -> bool:
    """The core's room check (`room_check_key`): a manual assignment treats an unset capacity as no limit."""
    return await has_room(session, operator, channel, unset_is_unlimited=True)


def record_decision(
    session: AsyncSession,
    conversation: Conversation,
    operator_id: int | None,
    reason: str,
    team: str | None,
    explanation: dict[str, Any],
    text: str,
    now: datetime,
    rules_version: int | None = None,
) -> None:
    """Keep a routing decision and tell it in the conversation's history as a system message."""
    session.add(
        RoutingDecision(
            conversation_id=conversation.id,
            operator_id=operator_id,
            reason=reason,
            lead_type=conversation.lead_type,
            team=team,
            rules_version=rules_version,
            explanation=explanation,
            created_at=now,
        )
    )
    routing: dict[str, Any] = {"reason": reason, "operator_id": operator_id}
    if operator_id is not None:
        routing["lead_type"] = conversation.lead_type
    session.add(
        Message(
            conversation_id=conversation.id,
            channel_key=channel_key(conversation.channel, conversation.inbox),
            direction=Direction.SYSTEM,
            author_kind=AuthorKind.SYSTEM,
            text=text,
            delivery_status=DeliveryStatus.SENT,
            extra={"routing": routing},
            created_at=now,
        )
    )


class Router:
    """Routing for one app (or one benchmark/test): rules from the store, decisions into it."""

    def __init__(
        self,
        sessions: SessionMaker,
        events: Events,
        wake_outbox: Callable[[], None],
        is_open: IsOpen = always_open,
        arrival_grace: timedelta = ARRIVAL_GRACE,
    ) -> None:
        self.sessions = sessions
        self.events = events
        self.wake_outbox = wake_outbox
        self.is_open = is_open
        self.arrival_grace = arrival_grace
        self._rules: Rules | None = None
        self._version: int | None = None

    # -- rules ---------------------------------------------------------------------------------

    async def rules(self) -> tuple[int | None, Rules | None]:
        """The live rules (the newest version), re-read only when another version was published."""
        async with self.sessions() as session:
            return await self._live_rules(session, await session.scalar(select(func.max(RoutingRulesVersion.id))))

    # -- assigning -----------------------------------------------------------------------------

    async def _live_rules(self, session: AsyncSession, version: int | None) -> tuple[int | None, Rules | None]:
        """The rules of `version` (the newest, read with the conversation), parsed again only when it moved."""
        if version is None:
            return None, None
        if version != self._version:
            row = await session.get(RoutingRulesVersion, version)
            assert row is not None
            self._rules, self._version = parse_rules(row.rules), version
        return self._version, self._rules

    async def route(
        self,
        conversation_id: int,
        *,
        reason: str = "routed",
        take_from: int | None = None,
        team: str | None = None,
    ) -> Outcome | None:
        """Assign `conversation_id` if it waits and someone can take it.

        `take_from` names the current assignee to replace (reply-by); they are not a candidate and
        keep the conversation when nobody else can take it. `team` overrides the route's team (an
        escalation to another team). None when nothing was decided: the
        conversation is not waiting, another worker holds it, or there are no rules.
        """
        cached = self._rules
        now = utcnow()
        announce: dict[str, Any] | None = None
        async with self.sessions() as session, session.begin():
            # No autoflush: the classification and the assignment go out as one UPDATE at the end.
            with session.no_autoflush:
                head = await read_head(session, conversation_id, cached.sticky if cached else None, now)
                if head is None:
                    return None
                version, rules = await self._live_rules(session, head.rules_version)
                conversation = head.conversation
                if rules is None or conversation.status != Status.OPEN:
                    return None
                if conversation.bot_state == "answering" or conversation.assignee_id != take_from:
                    return None
                if conversation.lead_type is None:
                    subject = await self._subject(session, head, now)
                    lead = classify(rules, subject, self.is_open)
                    conversation.lead_type = lead.id if lead else None
                route = rules.route_for(conversation.lead_type)
                if route is None:
                    return Outcome(conversation.id, None, "no_route", conversation.lead_type, head.team_name)
                sticky_id = head.sticky_operator_id
                if rules is not cached:  # the rules changed since the head was read with the old sticky settings
                    sticky_id = await self._sticky(session, rules, conversation, now)
                team = team or head.escalated_to or route.team or head.team_name
                outcome, announce = await self._assign(
                    session, version, route, head, team, sticky_id, now, reason, take_from
                )
        if announce is not None:
            await self._announce(outcome, announce, take_from)
        return outcome

    async def _assign(
        self,
        session: AsyncSession,
        version: int | None,
        route: Route,
        head: Head,
        team: str | None,
        sticky_id: int | None,
        now: datetime,
        reason: str,
        take_from: int | None,
    ) -> tuple[Outcome, dict[str, Any] | None]:
        conversation = head.conversation
        kind = channel_kind(conversation.channel)
        excluded = [take_from] if take_from is not None else []
        attempts: list[tuple[str | None, dict[str, int], str]] = [(team, route.required_skills, "primary")]
        overflow = route.overflow
        if overflow is not None and now - conversation.created_at >= timedelta(seconds=overflow.after_seconds):
            wide_skills = {} if overflow.drop_required_skills else route.required_skills
            attempts.append((overflow.team or team, wide_skills, "overflow"))
        tried: list[dict[str, Any]] = []
        for attempt_team, required, stage in attempts:
            pool = await load_pool(session, attempt_team, kind)
            candidates = pool.candidates
            held: dict[int, Candidate] = {}  # rows another decider holds right now (PostgreSQL)
            pick = partial(
                choose,
                team=attempt_team,
                required=required,
                preferred=route.preferred_skills,
                strategy=route.strategy,
                sticky_operator_id=sticky_id,
                excluded=excluded,
            )
            for _ in range(MAX_PICKS):  # a recount under the operator's lock may rule out the pick
                choice, wait = pick(candidates.values()), False
                if choice.operator_id is None and held:
                    # Everyone else is full: wait for the best of those another decider is assigning to.
                    choice, wait = _also_considered(pick(held.values()), choice.considered), True
                if choice.operator_id is None:
                    break
                picked = held.pop(choice.operator_id, None) or candidates.pop(choice.operator_id)
                claimed = await claim(session, picked, kind, wait=wait)
                if claimed is None:
                    held[picked.id] = picked
                    continue
                if claimed:
                    if not wait:  # those held are not in this choice's list: say why they were passed over
                        choice = _also_considered(choice, [_being_assigned(c) for c in held.values()])
                    explanation = self._explain(route, version, stage, attempt_team, required, choice)
                    chosen = (picked.id, pool.names[picked.id])
                    return await self._write(
                        session, head, chosen, attempt_team, pool.team_id, explanation, now, reason, take_from
                    )
                candidates[picked.id] = Candidate(**{**_fields(picked), "load": picked.capacity})
            tried.append({"stage": stage, "team": attempt_team, "considered": choice.considered})
        outcome = Outcome(
            conversation.id,
            None,
            "queued",
            conversation.lead_type,
            team,
            {"lead_type": conversation.lead_type, "tried": tried},
        )
        return outcome, None

    def _explain(
        self,
        route: Route,
        version: int | None,
        stage: str,
        team: str | None,
        required: dict[str, int],
        choice: Choice,
    ) -> dict[str, Any]:
        return {
            "lead_type": route.lead_type,
            "rules_version": version,
            "team": team,
            "required_skills": required,
            "preferred_skills": route.preferred_skills,
            "strategy": choice.strategy,
            "sticky": choice.sticky,
            "overflow": stage == "overflow",
            "considered": choice.considered,
        }

    async def _write(
        self,
        session: AsyncSession,
        head: Head,
        operator: tuple[int, str],
        team: str | None,
        team_id: int | None,
        explanation: dict[str, Any],
        now: datetime,
        reason: str,
        take_from: int | None,
    ) -> tuple[Outcome, dict[str, Any]]:
        """Write the assignment, its explanation and system message; the event data, read back in the
        same transaction, is published by the caller after the commit."""
        if explanation["sticky"]:
            reason = "sticky"
        elif explanation["overflow"]:
            reason = "overflow"
        conversation = head.conversation
        operator_id, operator_name = operator
        conversation.assignee_id = operator_id
        if team is not None and team_id is not None:
            conversation.team_id = team_id
        conversation.assigned_at = now
        conversation.updated_at = now
        await session.execute(update(OPERATORS).where(OPERATORS.c.id == operator_id).values(last_assigned_at=now))
        explanation = {**explanation, "previous_operator_id": take_from}
        record_decision(
            session,
            conversation,
            operator_id,
            reason,
            team,
            explanation,
            describe(reason, operator_name, explanation),
            now,
            rules_version=explanation.get("rules_version"),
        )
        if head.has_notice:
            await session.execute(QUEUE_NOTICES.delete().where(RoutingQueueNotice.conversation_id == conversation.id))
        await session.flush()
        fresh = await session.scalar(
            select(Conversation)
            .where(Conversation.id == conversation.id)
            .options(joinedload(Conversation.contact), joinedload(Conversation.assignee), joinedload(Conversation.team))
            .execution_options(populate_existing=True)
        )
        assert fresh is not None
        announce = {"data": conversation_dict(fresh), "audience": Audience.of(fresh)}
        return Outcome(conversation.id, operator_id, reason, conversation.lead_type, team, explanation), announce

    async def _announce(self, outcome: Outcome, announce: dict[str, Any], previous: int | None) -> None:
        data = announce["data"]
        await self.events.send("conversation.assigned", data, announce["audience"])
        if previous is not None:
            await self.events.send(
                "conversation.removed",
                {"id": outcome.conversation_id, "if_hidden": True},
                Audience(assignee_id=previous),
            )
        await self.events.change(
            Assigned(
                conversation_id=outcome.conversation_id,
                operator_id=outcome.operator_id,
                previous_operator_id=previous,
                by_operator_id=None,
            )
        )

    async def _subject(self, session: AsyncSession, head: Head, now: datetime) -> Subject:
        conversation = head.conversation
        texts = (
            await session.scalars(
                select(Message.text)
                .where(Message.conversation_id == conversation.id, Message.direction == Direction.IN)
                .order_by(Message.id)
                .limit(3)
            )
        ).all()
        text = "\n".join([conversation.subject or "", *texts]).strip()
        return Subject(
            channel=conversation.channel,
            text=text,
            contact_tags=head.contact_tags,
            returning=head.returning,
            source=touchpoint_fields(conversation.inbox, conversation.source),
            team=head.team_name,
            at=now,
        )

    async def _sticky(
        self, session: AsyncSession, rules: Rules, conversation: Conversation, now: datetime
    ) -> int | None:
        if not rules.sticky.enabled:
            return None
        return await session.scalar(sticky_operator(conversation.id, conversation.contact_id, rules.sticky, now))

    async def _candidates(self, session: AsyncSession, team: str | None, kind: str) -> dict[int, Candidate]:
        """The team's active operators (every operator when the route names no team) with their load."""
        return (await load_pool(session, team, kind)).candidates

    # -- the queue -----------------------------------------------------------------------------

    async def waiting(self, limit: int) -> Sequence[int]:
        async with self.sessions() as session:
            return (await session.scalars(waiting_query().limit(limit))).all()

    async def serve_queue(self, limit: int = 200) -> list[Outcome]:
        """Try the waiting conversations in serving order; returns the assignments made.

        The whole queue is scanned, but once a conversation could not be placed, later ones that would
        look for the same pool (team, channel kind, required skills, overflow stage) are skipped in
        this pass without a decision: nobody behind a full team blocks a team that has room, and
        `limit` bounds the decisions tried, not how far down the queue is looked at. The queue is read
        a page (`QUEUE_PAGE`) at a time, so a release that places the head reads one page, not all."""
        _, rules = await self.rules()
        if rules is None:
            return []
        now = utcnow()
        async with self.sessions() as session:
            teams: dict[int, str] = dict((await session.execute(select(Team.id, Team.name))).all())
        blocked: set[tuple[Any, ...]] = set()
        seen: set[int] = set()
        made: list[Outcome] = []
        tried = offset = 0
        while tried < limit and offset < MAX_QUEUE_SCAN:
            rows, escalated = await self._queue_page(offset)
            fresh = [row for row in rows if row[0] not in seen]
            if not fresh:
                break
            assigned = 0
            for conversation_id, lead_type, channel, created_at, team_id in fresh:
                if tried >= limit:
                    break
                seen.add(conversation_id)
                if lead_type is None and now - created_at < self.arrival_grace:
                    continue  # its own `inbound` job routes it, after the parts before routing had their say
                route = rules.route_for(lead_type) if lead_type else None
                if route is not None:
                    team = escalated.get(conversation_id) or route.team or teams.get(team_id)
                    if _pool(route, team, channel, now - created_at) in blocked:
                        continue
                tried += 1
                outcome = await self.route(conversation_id)
                if outcome is None:
                    continue
                if outcome.operator_id is not None:
                    made.append(outcome)
                    assigned += 1
                elif outcome.reason == "queued" and outcome.lead_type:
                    route = rules.route_for(outcome.lead_type)
                    if route is not None:
                        blocked.add(_pool(route, outcome.team, channel, now - created_at))
            if len(rows) < QUEUE_PAGE:
                break
            # The assigned left the queue; step back a little for rows other workers' changes moved up.
            offset = max(0, offset + len(rows) - assigned - QUEUE_PAGE_OVERLAP)
        return made

    async def _queue_page(self, offset: int) -> tuple[list[Any], dict[int, str]]:
        """One page of the waiting queue in serving order, and the team each of them was requeued to."""
        async with self.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        waiting_query()
                        .add_columns(
                            Conversation.lead_type, Conversation.channel, Conversation.created_at, Conversation.team_id
                        )
                        .offset(offset)
                        .limit(QUEUE_PAGE)
                    )
                ).all()
            )
            if not rows:
                return [], {}
            latest = (
                select(func.max(RoutingDecision.id))
                .where(RoutingDecision.conversation_id.in_([row[0] for row in rows]))
                .group_by(RoutingDecision.conversation_id)
            )
            decisions = await session.execute(
                select(RoutingDecision.conversation_id, RoutingDecision.team, RoutingDecision.operator_id).where(
                    RoutingDecision.id.in_(latest)
                )
            )
        escalated = {cid: team for cid, team, operator_id in decisions.all() if operator_id is None and team}
        return rows, escalated

    async def unassign(self, conversation_id: int, operator_id: int, reason: str, team: str | None = None) -> bool:
        """Put a conversation held by `operator_id` back in the queue (compare-and-set on the holder)."""
        async with self.sessions() as session, session.begin():
            conversation = await session.get(
                Conversation, conversation_id, with_for_update=True, populate_existing=True
            )
            if conversation is None or conversation.assignee_id != operator_id:
                return False
            now = utcnow()
            conversation.assignee_id = None
            conversation.assigned_at = None
            conversation.updated_at = now
            if team is not None:
                team_id = await session.scalar(select(Team.id).where(Team.name == team))
                if team_id is not None:
                    conversation.team_id = team_id
            record_decision(
                session,
                conversation,
                None,
                reason,
                team,
                {"previous_operator_id": operator_id},
                f"Back in the queue: {reason.replace('_', ' ')}",
                now,
            )
        async with self.sessions() as session:
            fresh = await load_conversation(session, conversation_id)
        if fresh is not None:
            await self.events.send("conversation.updated", conversation_dict(fresh), Audience.of(fresh))
            await self.events.send(
                "conversation.removed", {"id": fresh.id, "if_hidden": True}, Audience(assignee_id=operator_id)
            )
        return True

    async def requeue_offline(self, operator_id: int) -> int:
        """An operator went offline: their open conversations of the configured kinds go back."""
        _, rules = await self.rules()
        if rules is None:
            return 0
        kinds = set(rules.requeue_on_offline)
        async with self.sessions() as session:
            held = (
                await session.execute(
                    select(Conversation.id, Conversation.channel).where(
                        Conversation.assignee_id == operator_id, Conversation.status == Status.OPEN
                    )
                )
            ).all()
        count = 0
        for conversation_id, channel in held:
            if channel_kind(channel) in kinds and await self.unassign(conversation_id, operator_id, "operator_offline"):
                count += 1
                await self.route(conversation_id, reason="requeued")
        return count

    async def reply_overdue(self, now: datetime | None = None) -> list[Outcome]:
        """Reassign conversations whose assignee has not answered within the route's reply-by time.

        The deadline moves earlier when the SLA deadline is near: a quarter of the reply-by time
        before the breach, but never sooner than a quarter of it after the assignment."""
        _, rules = await self.rules()
        if rules is None:
            return []
        limits = {r.lead_type: r.reply_within_seconds for r in rules.routes if r.reply_within_seconds}
        if not limits:
            return []
        now = now or utcnow()
        answered = exists().where(
            Message.conversation_id == Conversation.id,
            Message.author_kind == AuthorKind.OPERATOR,
            Message.direction == Direction.OUT,
            Message.created_at >= Conversation.assigned_at,
        )
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        Conversation.id,
                        Conversation.assignee_id,
                        Conversation.lead_type,
                        Conversation.assigned_at,
                        Conversation.sla_due_at,
                    ).where(
                        Conversation.status == Status.OPEN,
                        Conversation.assignee_id.is_not(None),
                        Conversation.assigned_at.is_not(None),
                        Conversation.lead_type.in_(list(limits)),
                        ~answered,
                    )
                )
            ).all()
        made = []
        for conversation_id, assignee_id, lead_type, assigned_at, sla_due_at in rows:
            if assigned_at is None or lead_type is None:  # excluded by the query; tells the type checker
                continue
            if reply_due(assigned_at, limits[lead_type], sla_due_at) > now:
                continue
            outcome = await self.route(conversation_id, reason="reply_overdue", take_from=assignee_id)
            if outcome is not None and outcome.operator_id is not None:
                made.append(outcome)
        return made

    # -- telling the customer ------------------------------------------------------------------

    async def retell_positions(self, limit: int) -> int:
        """Tell customers already told their place again if it moved a lot (their queue moved on)."""
        _, rules = await self.rules()
        if rules is None or not rules.queue_notice.enabled:
            return 0
        async with self.sessions() as session:
            told = (
                await session.scalars(
                    select(RoutingQueueNotice.conversation_id).order_by(RoutingQueueNotice.told_at).limit(limit)
                )
            ).all()
        return sum([await self.tell_position(conversation_id) for conversation_id in told])

    async def tell_position(self, conversation_id: int) -> bool:
        """Tell a waiting customer their place and expected wait, again only after a big move."""
        _, rules = await self.rules()
        if rules is None or not rules.queue_notice.enabled:
            return False
        notice = rules.queue_notice
        async with self.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.assignee_id is not None or conversation.status != Status.OPEN:
                return False
            if not await may_send_automated(session, conversation):
                return False
            order = waiting_query().where(
                Conversation.team_id.is_(None)
                if conversation.team_id is None
                else Conversation.team_id == conversation.team_id
            )
            ids = (await session.scalars(order.limit(10_000))).all()
            if conversation_id not in ids:
                return False
            position = ids.index(conversation_id) + 1
            told = await session.get(RoutingQueueNotice, conversation_id)
            if told is not None and abs(told.position - position) < notice.notify_again_when_moved:
                return False
            if told is None:
                session.add(RoutingQueueNotice(conversation_id=conversation_id, position=position, told_at=utcnow()))
            else:
                told.position, told.told_at = position, utcnow()
            await session.commit()
        minutes = max(1, round(position * notice.seconds_per_position / 60))
        text = render(notice.text, {"queue.position": position, "queue.wait_minutes": minutes})
        await send_automated(
            self.sessions,
            self.events,
            self.wake_outbox,
            conversation_id,
            text,
            author_kind=AuthorKind.SYSTEM,
            extra={"queue": {"position": position, "wait_minutes": minutes}},
        )
        return True


def _pool(route: Route, team: str | None, channel: str, waited: timedelta) -> tuple[Any, ...]:
    """What decides whether anyone can take a conversation: equal pools, equal answer."""
    overflow = route.overflow
    widened = overflow is not None and waited >= timedelta(seconds=overflow.after_seconds)
    wide = (overflow.team, overflow.drop_required_skills) if overflow is not None and widened else None
    return (team, channel_kind(channel), tuple(sorted(route.required_skills.items())), wide)


def reply_due(assigned_at: datetime, within_seconds: int, sla_due_at: datetime | None) -> datetime:
    due = assigned_at + timedelta(seconds=within_seconds)
    if sla_due_at is not None:
        earliest = assigned_at + timedelta(seconds=within_seconds / 4)
        due = min(due, max(earliest, sla_due_at - timedelta(seconds=within_seconds / 4)))
    return due


def describe(reason: str, operator_name: str, explanation: dict[str, Any]) -> str:
    """The system line in the conversation; the full explanation is in the routing decision."""
    parts = [f"Assigned to {operator_name}"]
    if explanation.get("lead_type"):
        parts.append(f"lead type {explanation['lead_type']}")
    if explanation.get("team"):
        parts.append(f"team {explanation['team']}")
    parts.append(
        "sticky: their last operator" if explanation.get("sticky") else f"strategy {explanation.get('strategy')}"
    )
    if explanation.get("overflow"):
        parts.append("overflow")
    if reason == "reply_overdue":
        parts.append("the previous operator did not reply in time")
    elif reason == "requeued":
        parts.append("requeued")
    return "; ".join(parts)


def _also_considered(choice: Choice, others: list[dict[str, Any]]) -> Choice:
    return Choice(choice.operator_id, choice.strategy, choice.sticky, [*others, *choice.considered])


def _being_assigned(candidate: Candidate) -> dict[str, Any]:
    """An operator passed over because another worker was assigning to them at that moment."""
    return {
        "operator_id": candidate.id,
        "login": candidate.login,
        "load": candidate.load,
        "capacity": candidate.capacity,
        "passed_over": "being_assigned",
    }


def _fields(candidate: Candidate) -> dict[str, Any]:
    return {name: getattr(candidate, name) for name in Candidate.__slots__}
