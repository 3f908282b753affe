"""Deadlines, pauses, firing and escalation of the SLA engine, driven by a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from lines.console.bus import MemoryBus
from lines.console.changes import Inbound, Reply, StatusChanged
from lines.console.events import Events
from lines.console.models import AuthorKind, Contact, Conversation, Direction, Message, Operator, Role, Team
from lines.sla.models import ConversationSla, SlaEvent
from lines.sla.policies import PolicySet, load_seed
from lines.sla.processor import process
from lines.sla.service import SlaService

MSK = ZoneInfo("Europe/Moscow")
FRIDAY_17 = datetime(2026, 11, 20, 17, 0, tzinfo=MSK)


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class Harness:
    """A service over a real database, a clock the test moves, and what it published."""

    def __init__(self, sessions: Callable[[], Any], clock: FakeClock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.bus = MemoryBus()
        self.published: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.service = SlaService(sessions, Events(self.bus), clock)

    async def start(self, document: dict[str, Any]) -> None:
        async def record(topic: str, payload: dict[str, Any]) -> None:
            self.published.append(payload)

        async def enqueue(queue: str, payload: dict[str, Any]) -> None:
            self.jobs.append(payload)

        self.bus.publish = record  # type: ignore[method-assign,assignment]
        self.bus.enqueue = enqueue  # type: ignore[method-assign]
        await self.service.load_policies()
        await self.service.save_policies(PolicySet.parse(document), None)

    async def conversation(
        self, lead_type: str | None = None, team_id: int | None = None, assignee_id: int | None = None
    ) -> int:
        async with self.sessions() as session, session.begin():
            contact = Contact(name="Vera")
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id,
                channel="email",
                inbox="support",
                lead_type=lead_type,
                team_id=team_id,
                assignee_id=assignee_id,
                created_at=self.clock(),
            )
            session.add(conversation)
            await session.flush()
            conversation_id = conversation.id
        await self.message(conversation_id, AuthorKind.CONTACT)
        return conversation_id

    async def message(self, conversation_id: int, author: AuthorKind) -> None:
        async with self.sessions() as session, session.begin():
            message = Message(
                conversation_id=conversation_id,
                channel_key="email:support",
                direction=Direction.IN if author == AuthorKind.CONTACT else Direction.OUT,
                author_kind=author,
                delivery_status="received",
                created_at=self.clock(),
            )
            session.add(message)
            await session.flush()
            message_id = message.id
        if author == AuthorKind.CONTACT:
            await process(self.service, Inbound(conversation_id=conversation_id, message_id=message_id))
        else:
            await process(
                self.service, Reply(conversation_id=conversation_id, message_id=message_id, author_kind=author.value)
            )

    async def set_status(self, conversation_id: int, status: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(status=status))
        await process(self.service, StatusChanged(conversation_id=conversation_id, status=status, previous=""))

    async def tick(self, conversation_id: int) -> None:
        await self.service.update(conversation_id)

    async def record(self, conversation_id: int) -> ConversationSla:
        async with self.sessions() as session:
            record = await session.get(ConversationSla, conversation_id)
            assert record is not None
            return record

    async def conversation_row(self, conversation_id: int) -> Conversation:
        async with self.sessions() as session:
            row = await session.get(Conversation, conversation_id)
            assert row is not None
            return row

    async def fired(self, conversation_id: int) -> list[tuple[str, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(SlaEvent.target, SlaEvent.kind)
                .where(SlaEvent.conversation_id == conversation_id)
                .order_by(SlaEvent.id)
            )
            return [(t, k) for t, k in rows.all()]

    def due(self, record: ConversationSla, target: str) -> datetime:
        return datetime.fromisoformat(record.deadlines[target]["due_at"])


def document(**policy: Any) -> dict[str, Any]:
    seed = load_seed()
    base = {"id": "test", "applies_to": {}, "calendar": "24x7", "warn_at": 0.5, **policy}
    return {"calendars": seed["calendars"], "policies": [base]}


@pytest.fixture
async def harness(session_maker_for: Callable[[], Any]) -> AsyncIterator[Harness]:
    yield Harness(session_maker_for, FakeClock(FRIDAY_17))


async def test_first_response_deadline_skips_the_weekend_in_the_office_calendar(harness: Harness) -> None:
    await harness.start(load_seed())
    conversation_id = await harness.conversation()
    record = await harness.record(conversation_id)
    assert record.policy_id == "default"
    # Friday closes at 17:00 Moscow time: one working hour is Monday 09:00-10:00.
    assert harness.due(record, "first_response") == datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
    row = await harness.conversation_row(conversation_id)
    assert row.sla_due_at == datetime(2026, 11, 23, 10, 0, tzinfo=MSK)
    assert row.sla_state == "ok"


async def test_the_first_matching_policy_applies(harness: Harness) -> None:
    await harness.start(load_seed())
    vip = await harness.conversation(lead_type="vip")
    record = await harness.record(vip)
    assert record.policy_id == "vip"
    assert harness.due(record, "first_response") == FRIDAY_17 + timedelta(seconds=120)


async def test_an_operator_reply_meets_the_first_response(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=60))
    conversation_id = await harness.conversation()
    harness.clock.advance(seconds=10)
    await harness.message(conversation_id, AuthorKind.OPERATOR)
    record = await harness.record(conversation_id)
    assert record.deadlines["first_response"]["state"] == "met"
    assert record.next_fire_at is None


async def test_a_bot_reply_does_not_meet_the_first_response_unless_the_policy_counts_it(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=60))
    conversation_id = await harness.conversation()
    await harness.message(conversation_id, AuthorKind.BOT)
    assert (await harness.record(conversation_id)).deadlines["first_response"]["state"] == "ok"

    await harness.service.save_policies(
        PolicySet.parse(document(first_response_seconds=60, count_bot_replies=True)), None
    )
    other = await harness.conversation()
    await harness.message(other, AuthorKind.BOT)
    assert (await harness.record(other)).deadlines["first_response"]["state"] == "met"


async def test_next_response_starts_at_the_first_customer_message_after_a_reply(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=60, next_response_seconds=300))
    conversation_id = await harness.conversation()
    await harness.message(conversation_id, AuthorKind.OPERATOR)
    harness.clock.advance(seconds=100)
    asked = harness.clock()
    await harness.message(conversation_id, AuthorKind.CONTACT)
    harness.clock.advance(seconds=50)
    await harness.message(conversation_id, AuthorKind.CONTACT)  # a follow-up does not buy time
    record = await harness.record(conversation_id)
    assert harness.due(record, "next_response") == asked + timedelta(seconds=300)
    await harness.message(conversation_id, AuthorKind.OPERATOR)
    assert (await harness.record(conversation_id)).deadlines["next_response"]["state"] == "met"


async def test_pending_time_does_not_count_toward_resolution(harness: Harness) -> None:
    await harness.start(document(resolution_seconds=1000))
    conversation_id = await harness.conversation()
    harness.clock.advance(seconds=100)
    await harness.set_status(conversation_id, "pending")
    record = await harness.record(conversation_id)
    assert record.state == "paused"
    assert record.deadlines["resolution"] == {"state": "paused", "due_at": None, "warn_at": None, "remaining": 900.0}
    harness.clock.advance(hours=5)
    await harness.set_status(conversation_id, "open")
    record = await harness.record(conversation_id)
    assert harness.due(record, "resolution") == harness.clock() + timedelta(seconds=900)


async def test_resolving_meets_the_resolution_target(harness: Harness) -> None:
    await harness.start(document(resolution_seconds=1000))
    conversation_id = await harness.conversation()
    await harness.set_status(conversation_id, "resolved")
    row = await harness.conversation_row(conversation_id)
    assert (row.sla_state, row.sla_due_at) == ("met", None)


async def test_resolving_before_the_first_reply_stops_its_countdown(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=100))
    conversation_id = await harness.conversation()
    harness.clock.advance(seconds=10)
    await harness.set_status(conversation_id, "resolved")
    row = await harness.conversation_row(conversation_id)
    assert (row.sla_state, row.sla_due_at) == ("met", None)
    record = await harness.record(conversation_id)
    assert record.next_fire_at is None
    assert record.deadlines["first_response"] == {"state": "stopped", "due_at": None, "warn_at": None, "met_at": None}
    harness.clock.advance(hours=1)
    await harness.tick(conversation_id)
    assert await harness.fired(conversation_id) == []
    assert (await harness.conversation_row(conversation_id)).sla_state == "met"


async def test_reopening_a_resolved_conversation_restarts_its_countdown(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=100))
    conversation_id = await harness.conversation()
    started = harness.clock()
    await harness.set_status(conversation_id, "resolved")
    await harness.set_status(conversation_id, "open")
    row = await harness.conversation_row(conversation_id)
    assert row.sla_state == "ok"
    assert row.sla_due_at is not None and row.sla_due_at == started + timedelta(seconds=100)


async def test_warning_and_breach_fire_once_each(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=100))
    conversation_id = await harness.conversation()
    harness.clock.advance(seconds=60)
    await harness.tick(conversation_id)
    await harness.tick(conversation_id)
    assert (await harness.conversation_row(conversation_id)).sla_state == "warning"
    harness.clock.advance(seconds=60)
    await harness.tick(conversation_id)
    await harness.tick(conversation_id)
    assert await harness.fired(conversation_id) == [("first_response", "warning"), ("first_response", "breached")]
    assert (await harness.conversation_row(conversation_id)).sla_state == "breached"
    kinds = [p["type"] for p in harness.published if p["type"].startswith("sla.")]
    assert kinds.count("sla.warning") == 1 and kinds.count("sla.breached") == 1


async def test_a_deadline_passed_unnoticed_fires_its_warning_and_breach_together(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=100))
    conversation_id = await harness.conversation()
    harness.clock.advance(hours=1)
    await harness.tick(conversation_id)
    assert await harness.fired(conversation_id) == [("first_response", "warning"), ("first_response", "breached")]


async def test_breach_escalates_to_leads_raises_priority_and_requeues(harness: Harness) -> None:
    escalations = [
        {"on": "warning", "notify": ["assignee"]},
        {"on": "breached", "notify": ["lead"], "raise_priority": True, "reassign": "team"},
    ]
    await harness.start(document(first_response_seconds=100, escalations=escalations))
    async with harness.sessions() as session, session.begin():
        team = Team(name="support")
        lead = Operator(login="lead", name="Lead", password_hash="x", role=Role.LEAD, teams=[team])
        anna = Operator(login="anna", name="Anna", password_hash="x", role=Role.OPERATOR, teams=[team])
        session.add_all([team, lead, anna])
        await session.flush()
        team_id, lead_id, anna_id = team.id, lead.id, anna.id
    conversation_id = await harness.conversation(team_id=team_id, assignee_id=anna_id)
    harness.clock.advance(seconds=60)
    await harness.tick(conversation_id)
    harness.clock.advance(seconds=60)
    await harness.tick(conversation_id)
    notices = [p for p in harness.published if p["type"] == "notification"]
    assert [(n["data"]["kind"], list(n["audience"]["operator_ids"])) for n in notices] == [
        ("sla.warning", [anna_id]),
        ("sla.breached", [lead_id]),
    ]
    assert (await harness.conversation_row(conversation_id)).priority == "high"
    assert harness.jobs == [
        {"kind": "requeue", "conversation_id": conversation_id, "reason": "sla_breached:first_response"}
    ]


async def test_changing_policies_recomputes_open_conversations(harness: Harness) -> None:
    await harness.start(document(first_response_seconds=100))
    conversation_id = await harness.conversation()
    await harness.service.save_policies(PolicySet.parse(document(first_response_seconds=500)), None)
    await harness.service.recompute_all()  # in the app, the recompute job (tests/sla/test_recompute.py)
    record = await harness.record(conversation_id)
    assert harness.due(record, "first_response") == FRIDAY_17 + timedelta(seconds=500)


async def test_conversations_matching_no_policy_have_no_deadline(harness: Harness) -> None:
    doc = document(first_response_seconds=100)
    doc["policies"][0]["applies_to"] = {"lead_types": ["vip"]}
    await harness.start(doc)
    conversation_id = await harness.conversation()
    row = await harness.conversation_row(conversation_id)
    assert (row.sla_state, row.sla_due_at) == (None, None)
    async with harness.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SlaEvent)) == 0


def test_now_is_timezone_aware() -> None:
    assert FakeClock(datetime(2026, 1, 1, tzinfo=UTC))().tzinfo is not None
