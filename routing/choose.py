"""Choosing an operator: pure functions over candidates, shared by the assigner and the simulator.

Only online operators of the route's team, under capacity for the conversation's channel kind and
with every required skill at its level are candidates. Preferred skills raise the score; among equal
scores the strategy decides. A sticky operator (the customer's last one) wins if a candidate.
Every operator passed over is listed with the reason, for the assignment's explanation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    login: str
    presence: str
    teams: frozenset[str]
    skills: Mapping[str, int]
    capacity: int
    load: int
    last_assigned_at: datetime | None = None
    presence_changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    operator_id: int | None
    strategy: str
    sticky: bool
    considered: list[dict[str, Any]]

    @property
    def chosen(self) -> bool:
        return self.operator_id is not None


def passed_over(
    candidate: Candidate, team: str | None, required: Mapping[str, int], excluded: Iterable[int] = ()
) -> str | None:
    """Why `candidate` cannot take the conversation, or None if they can."""
    if candidate.id in set(excluded):
        return "did_not_reply_in_time"
    if team is not None and team not in candidate.teams:
        return "not_in_team"
    if candidate.presence != "online":
        return candidate.presence
    for skill, level in required.items():
        if candidate.skills.get(skill, 0) < level:
            return f"missing_skill:{skill}"
    if candidate.load >= candidate.capacity:
        return "at_capacity"
    return None


def preferred_score(candidate: Candidate, preferred: Mapping[str, int]) -> float:
    return sum(min(candidate.skills.get(skill, 0), level) / level for skill, level in preferred.items())


def _idle_since(candidate: Candidate) -> datetime:
    return max(candidate.last_assigned_at or EPOCH, candidate.presence_changed_at or EPOCH)


def strategy_key(strategy: str, candidate: Candidate) -> tuple[Any, ...]:
    """Smaller is better."""
    if strategy == "round_robin":
        return (candidate.last_assigned_at or EPOCH, candidate.id)
    if strategy == "longest_idle":
        return (_idle_since(candidate), candidate.id)
    return (candidate.load / max(candidate.capacity, 1), candidate.last_assigned_at or EPOCH, candidate.id)


def choose(
    candidates: Iterable[Candidate],
    *,
    team: str | None,
    required: Mapping[str, int],
    preferred: Mapping[str, int],
    strategy: str,
    sticky_operator_id: int | None = None,
    excluded: Iterable[int] = (),
) -> Choice:
    excluded = set(excluded)
    able: list[Candidate] = []
    considered: list[dict[str, Any]] = []
    for candidate in candidates:
        reason = passed_over(candidate, team, required, excluded)
        if reason == "not_in_team":
            continue  # other teams are not candidates at all; listing them would drown the explanation
        entry = {
            "operator_id": candidate.id,
            "login": candidate.login,
            "load": candidate.load,
            "capacity": candidate.capacity,
            "passed_over": reason,
        }
        considered.append(entry)
        if reason is None:
            able.append(candidate)
    if not able:
        return Choice(None, strategy, False, considered)
    sticky = next((c for c in able if c.id == sticky_operator_id), None)
    if sticky is not None:
        best, is_sticky = sticky, True
    else:
        best = min(able, key=lambda c: (-preferred_score(c, preferred), *strategy_key(strategy, c)))
        is_sticky = False
    for entry in considered:
        if entry["operator_id"] != best.id and entry["passed_over"] is None:
            entry["passed_over"] = "lower_rank"
    return Choice(best.id, strategy, is_sticky, considered)
