"""Choosing an operator: candidates, strategies, preferred skills, sticky, and the reasons given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lines.routing.choose import Candidate, choose

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def op(id: int, load: int = 0, capacity: int = 5, presence: str = "online", **more: object) -> Candidate:
    values: dict[str, object] = {
        "id": id,
        "login": f"op{id}",
        "presence": presence,
        "teams": frozenset({"support"}),
        "skills": {},
        "capacity": capacity,
        "load": load,
    }
    values.update(more)
    return Candidate(**values)  # type: ignore[arg-type]


def pick(candidates: list[Candidate], strategy: str = "least_loaded", **kw: object) -> int | None:
    options: dict[str, object] = {"team": "support", "required": {}, "preferred": {}, "strategy": strategy}
    options.update(kw)
    return choose(candidates, **options).operator_id  # type: ignore[arg-type]


def test_least_loaded_takes_the_lowest_share_of_capacity() -> None:
    assert pick([op(1, load=2, capacity=4), op(2, load=2, capacity=10)]) == 2


def test_round_robin_takes_who_was_assigned_longest_ago() -> None:
    recent, earlier = op(1, last_assigned_at=T0), op(2, last_assigned_at=T0 - timedelta(minutes=5))
    assert pick([recent, earlier], "round_robin") == 2


def test_longest_idle_counts_from_coming_online_too() -> None:
    a = op(1, last_assigned_at=T0 - timedelta(hours=1), presence_changed_at=T0)
    b = op(2, last_assigned_at=T0 - timedelta(minutes=30))
    assert pick([a, b], "longest_idle") == 2


def test_offline_busy_and_unskilled_operators_are_passed_over_with_the_reason() -> None:
    choice = choose(
        [op(1, presence="offline"), op(2, load=5, skills={"vip": 1}), op(3), op(4, skills={"vip": 2})],
        team="support",
        required={"vip": 1},
        preferred={},
        strategy="least_loaded",
    )
    reasons = {c["operator_id"]: c["passed_over"] for c in choice.considered}
    assert choice.operator_id == 4
    assert reasons == {1: "offline", 2: "at_capacity", 3: "missing_skill:vip", 4: None}


def test_operators_of_other_teams_are_not_candidates() -> None:
    assert pick([op(1, teams=frozenset({"sales"}))]) is None


def test_preferred_skills_raise_the_score() -> None:
    assert pick([op(1), op(2, load=3, skills={"ru": 1})], preferred={"ru": 1}) == 2


def test_sticky_operator_wins_when_a_candidate() -> None:
    choice = choose(
        [op(1), op(2, load=4)], team="support", required={}, preferred={}, strategy="least_loaded", sticky_operator_id=2
    )
    assert choice.operator_id == 2 and choice.sticky


def test_sticky_operator_at_capacity_is_not_chosen() -> None:
    assert pick([op(1), op(2, load=5)], sticky_operator_id=2) == 1


def test_excluded_operator_is_passed_over() -> None:
    assert pick([op(1), op(2, load=1)], excluded=[1]) == 2
