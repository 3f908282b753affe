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
    missing = missing_skill(candidate.skills, required)
    if missing is not None:
        return f"missing_skill:{missing}"
    if candidate.load >= candidate.capacity:
        return "at_capacity"
    return None


def missing_skill(skills: Mapping[str, int], required: Mapping[str, int]) -> str | None:
    """The first required skill below its level, or None."""
    return next((skill for skill, level in required.items() if skills.get(skill, 0) < level), None)


def rank(
    strategy: str,
    skills: Mapping[str, int],
    preferred: Mapping[str, int],
    *,
    load: int,
    capacity: int,
    last_assigned: Any,
    idle_since: Any,
    operator_id: int,
) -> tuple[Any, ...]:
    """The order among able operators, smaller first: preferred skills, then the strategy's.

    Over plain values, so that the simulator ranks its operators without building candidates;
    `last_assigned` and `idle_since` only need to compare (a time, or simulated seconds)."""
    preferred_score = sum(min(skills.get(skill, 0), level) / level for skill, level in preferred.items())
    if strategy == "round_robin":
        return (-preferred_score, last_assigned, operator_id)
    if strategy == "longest_idle":
        return (-preferred_score, idle_since, operator_id)
    return (-preferred_score, load / max(capacity, 1), last_assigned, operator_id)


def candidate_rank(candidate: Candidate, preferred: Mapping[str, int], strategy: str) -> tuple[Any, ...]:
    last_assigned = candidate.last_assigned_at or EPOCH
    return rank(
        strategy,
        candidate.skills,
        preferred,
        load=candidate.load,
        capacity=candidate.capacity,
        last_assigned=last_assigned,
        idle_since=max(last_assigned, candidate.presence_changed_at or EPOCH),
        operator_id=candidate.id,
    )


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
        best = min(able, key=lambda c: candidate_rank(c, preferred, strategy))
        is_sticky = False
    for entry in considered:
        if entry["operator_id"] != best.id and entry["passed_over"] is None:
            entry["passed_over"] = "lower_rank"
    return Choice(best.id, strategy, is_sticky, considered)
