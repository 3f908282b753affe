"""What-if: replaying routing in simulated time, in memory and through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from lines.console.keys import limiter_key, sessions_key
from lines.console.models import Conversation, Presence, PresenceChange, utcnow
from lines.routing.choose import Candidate, choose
from lines.routing.rules import STRATEGIES, Route, parse_rules
from lines.routing.simulate import Arrival, SimOperator, _rank, generate, simulate
from tests.api.helpers import Client, auth_headers, error_of, open_conversation
from tests.conftest import Staff
from tests.routing.helpers import RULES, presence, publish

SUPPORT = parse_rules(
    {
        "lead_types": [{"id": "support", "when": {}}],
        "routes": [{"lead_type": "support", "team": "support"}],
    }
)


def team(n: int, chat: int = 1) -> list[SimOperator]:
    return [SimOperator(i, f"op{i}", frozenset({"support"}), {}, {"chat": chat}) for i in range(n)]


def test_with_enough_operators_nobody_waits() -> None:
    arrivals = [Arrival(at=i * 60.0, channel="webchat", handle_seconds=30) for i in range(10)]
    result = simulate(SUPPORT, team(1), arrivals)
    assert result["assigned"] == 10 and result["teams"]["support"]["wait_p99_seconds"] == 0
    assert result["teams"]["support"]["answered_within_target"] == 1.0


def test_a_busy_operator_makes_the_next_customer_wait_for_the_release() -> None:
    arrivals = [Arrival(0, "webchat", handle_seconds=100), Arrival(10, "webchat", handle_seconds=100)]
    result = simulate(SUPPORT, team(1), arrivals, target_seconds=60)
    waits = result["teams"]["support"]
    assert waits["wait_p99_seconds"] == 90 and waits["answered_within_target"] == 0.5


def test_more_capacity_shortens_the_waits() -> None:
    arrivals = generate(hours=24, arrivals_per_hour={"webchat": 30}, handle_minutes=8)
    short = simulate(SUPPORT, team(3), arrivals)["teams"]["support"]
    staffed = simulate(SUPPORT, team(6), arrivals)["teams"]["support"]
    assert staffed["answered_within_target"] > short["answered_within_target"]


def test_generated_load_follows_the_arrival_rates() -> None:
    arrivals = generate(hours=100, arrivals_per_hour={"webchat": 10, "email": 2}, handle_minutes=5)
    by_channel = {c: sum(1 for a in arrivals if a.channel == c) for c in ("webchat", "email")}
    assert 850 < by_channel["webchat"] < 1150 and 150 < by_channel["email"] < 250


async def test_the_simulate_endpoint_replays_draft_rules(client: Client, staff: Staff) -> None:
    await publish(client)
    response = await client.post(
        "/api/v1/routing/simulate",
        json={"rules": RULES, "hours": 24, "arrivals_per_hour": {"webchat": 12}, "texts": ["купить диван", "help"]},
        headers=await auth_headers(client, "lead"),
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["arrivals"] == body["assigned"] + body["never_assigned"] + body["unrouted"]
    assert set(body["teams"]) <= {"sales", "support"} and body["simulated_hours"] > 20


async def test_the_simulate_endpoint_replays_the_store(client: Client, staff: Staff) -> None:
    await publish(client)
    response = await client.post(
        "/api/v1/routing/simulate", json={"sample": "store", "days": 1}, headers=await auth_headers(client, "lead")
    )
    assert response.status == 200 and (await response.json())["arrivals"] == 0


def test_an_operator_takes_nothing_before_coming_online() -> None:
    arrivals = [Arrival(0, "webchat", handle_seconds=30)]
    late = [SimOperator(1, "late", frozenset({"support"}), {}, {"chat": 1}, online=((100.0, 1000.0),))]
    result = simulate(SUPPORT, late, arrivals)
    assert result["assigned"] == 1 and result["teams"]["support"]["wait_p99_seconds"] == 100


def test_nobody_online_leaves_the_conversation_unassigned() -> None:
    away = [SimOperator(1, "away", frozenset({"support"}), {}, {"chat": 1}, online=())]
    result = simulate(SUPPORT, away, [Arrival(0, "webchat", handle_seconds=30)])
    assert (result["assigned"], result["never_assigned"]) == (0, 1)


async def test_every_presence_change_is_recorded(client: Client, staff: Staff) -> None:
    await presence(client, "anna", "online")
    await presence(client, "anna", "away")
    async with client.app[sessions_key]() as session:
        rows = (
            await session.scalars(
                select(PresenceChange.presence)
                .where(PresenceChange.operator_id == staff.anna)
                .order_by(PresenceChange.id)
            )
        ).all()
    assert rows[-2:] == ["online", "away"]


async def test_the_store_replay_has_operators_online_as_the_presence_history_says(client: Client, staff: Staff) -> None:
    """Two hours ago a customer asked to buy (sales) and another for help (support); anna (support)
    was online all along, the lead (both teams) offline, boris (sales) came online an hour ago. The
    draft sends the sale to sales, where it waits that hour; the live rules (support only) answer
    both at once."""
    await publish(
        client, {"lead_types": [{"id": "support", "when": {}}], "routes": [{"lead_type": "support", "team": "support"}]}
    )
    now = utcnow()
    ids = [
        await open_conversation(client, None, text="Хочу купить диван"),
        await open_conversation(client, None, text="help"),
    ]
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation).where(Conversation.id.in_(ids)).values(created_at=now - timedelta(hours=2))
        )
        session.add_all(
            [
                PresenceChange(operator_id=staff.anna, presence=Presence.ONLINE, at=now - timedelta(days=3)),
                PresenceChange(operator_id=staff.lead, presence=Presence.OFFLINE, at=now - timedelta(days=3)),
                PresenceChange(operator_id=staff.boris, presence=Presence.OFFLINE, at=now - timedelta(days=3)),
                PresenceChange(operator_id=staff.boris, presence=Presence.ONLINE, at=now - timedelta(hours=1)),
            ]
        )
    headers = await auth_headers(client, "lead")
    load = {"sample": "store", "days": 1, "handle_minutes": 5}
    draft = await (await client.post("/api/v1/routing/simulate", json={**load, "rules": RULES}, headers=headers)).json()
    live = await (await client.post("/api/v1/routing/simulate", json=load, headers=headers)).json()

    assert draft["presence"] == live["presence"] == "history"
    assert draft["teams"]["sales"]["conversations"] == 1
    assert 3590 <= draft["teams"]["sales"]["wait_p50_seconds"] <= 3610
    assert draft["teams"]["support"]["wait_p50_seconds"] == 0
    assert set(live["teams"]) == {"support"} and live["teams"]["support"]["conversations"] == 2
    assert live["teams"]["support"]["wait_p99_seconds"] == 0


async def test_a_generated_load_says_everyone_counts_as_online(client: Client, staff: Staff) -> None:
    await publish(client)
    response = await client.post(
        "/api/v1/routing/simulate",
        json={"hours": 1, "arrivals_per_hour": {"webchat": 5}},
        headers=await auth_headers(client, "lead"),
    )
    assert (await response.json())["presence"] == "everyone_online"


@settings(max_examples=200, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    operators=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 4), st.integers(-1, 3), st.integers(0, 3)),
        min_size=1,
        max_size=5,
    ),
)
def test_the_simulator_picks_whom_the_assigner_would(strategy: str, operators: list[tuple[int, ...]]) -> None:
    """Same skills, loads and last assignments: the simulator's pick is the chooser's."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    route = Route(lead_type="support", team="support", preferred_skills={"ru": 2}, strategy=strategy)
    staff = [
        SimOperator(i, f"op{i}", frozenset({"support"}), {"ru": ru}, {"chat": capacity}, {"chat": 0}, float(last))
        for i, (load, capacity, last, ru) in enumerate(operators)
    ]
    for operator, (load, *_rest) in zip(staff, operators, strict=True):
        operator.load["chat"] = min(load, operator.capacity["chat"] - 1)
    candidates = [
        Candidate(
            id=o.id,
            login=o.login,
            presence="online",
            teams=o.teams,
            skills=o.skills,
            capacity=o.capacity["chat"],
            load=o.load["chat"],
            last_assigned_at=start + timedelta(seconds=o.last_assigned) if o.last_assigned >= 0 else None,
        )
        for o in staff
    ]
    chosen = choose(candidates, team="support", required={}, preferred=route.preferred_skills, strategy=strategy)
    assert min(staff, key=lambda o: _rank(o, "chat", route)).id == chosen.operator_id


async def test_a_lead_runs_one_simulation_at_a_time(client: Client, staff: Staff) -> None:
    await publish(client)
    lead, admin = await auth_headers(client, "lead"), await auth_headers(client, "admin")
    small = {"rules": RULES, "hours": 1, "arrivals_per_hour": {"webchat": 5}}
    # The lead's simulation runs (here, or in another worker: the slot is on the shared limiter).
    slot = f"routing:simulate:{staff.lead}"
    assert (await client.app[limiter_key].hit(slot, 1, 120)).allowed
    response = await client.post("/api/v1/routing/simulate", json=small, headers=lead)
    assert await error_of(response) == (429, "simulation_running")
    assert int(response.headers["Retry-After"]) >= 1
    assert (await client.post("/api/v1/routing/simulate", json=small, headers=admin)).status == 200  # not shared
    await client.app[limiter_key].reset(slot)  # it ended
    for _ in range(2):  # and each finished simulation frees the slot again
        assert (await client.post("/api/v1/routing/simulate", json=small, headers=lead)).status == 200


async def test_a_simulation_bigger_than_the_bound_is_refused(client: Client, staff: Staff) -> None:
    response = await client.post(
        "/api/v1/routing/simulate",
        json={"hours": 744, "arrivals_per_hour": {"webchat": 1000}},
        headers=await auth_headers(client, "lead"),
    )
    assert await error_of(response) == (422, "too_large")
