"""What-if: replaying routing in simulated time, in memory and through the API."""

from __future__ import annotations

from lines.routing.rules import parse_rules
from lines.routing.simulate import Arrival, SimOperator, generate, simulate
from tests.api.helpers import Client, auth_headers
from tests.conftest import Staff
from tests.routing.helpers import RULES, publish

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
