"""What-if: replay routing in simulated time, in memory, with the same classifier and the same
ranking of operators (`choose.py`) as the assigner.

Arrivals come from the store (the last N days) or are generated (a Poisson process per channel).
Operators take conversations only while online: replaying the store, when they were online as the
presence history recorded it (`SimOperator.online`); a generated load has no past, so everyone is
online throughout. Skills and capacity are the ones they have now; each conversation holds its
operator for its handle time (from the store:
creation to resolution; generated: exponential around `handle_minutes`). Waiting conversations are
served by lead-type priority, then arrival, whenever an operator frees capacity. Overflow widens a
route after its delay. Nothing is written.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lines.routing.choose import missing_skill, rank
from lines.routing.classify import IsOpen, Subject, always_open, classify
from lines.routing.rules import Route, Rules, channel_kind


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # seconds from the start
    channel: str
    text: str = ""
    contact_tags: tuple[str, ...] = ()
    handle_seconds: float = 480.0
    customer: str = ""
    source: tuple[tuple[str, str], ...] = ()
    """The touchpoint's fields (`console/touchpoint.py`), for rules with `source` conditions."""


@dataclass(slots=True)
class SimOperator:
    id: int
    login: str
    teams: frozenset[str]
    skills: dict[str, int]
    capacity: dict[str, int]
    load: dict[str, int] = field(default_factory=lambda: {"chat": 0, "email": 0})
    last_assigned: float = -1.0
    online: tuple[tuple[float, float], ...] | None = None
    """Spans [start, end) in simulated seconds when the operator is online; None: all the time."""


def is_online(operator: SimOperator, at: float) -> bool:
    return operator.online is None or any(start <= at < end for start, end in operator.online)


def _rank(operator: SimOperator, kind: str, route: Route) -> tuple[Any, ...]:
    """The assigner's ranking; everyone is online the whole time, so idle since the last assignment."""
    return rank(
        route.strategy,
        operator.skills,
        route.preferred_skills,
        load=operator.load[kind],
        capacity=operator.capacity.get(kind, 0),
        last_assigned=operator.last_assigned,
        idle_since=operator.last_assigned,
        operator_id=operator.id,
    )


def generate(
    hours: float, arrivals_per_hour: dict[str, float], handle_minutes: float, texts: Sequence[str] = (), seed: int = 1
) -> list[Arrival]:
    """A Poisson arrival stream per channel over `hours`, handle times exponential around the mean."""
    rng = random.Random(seed)
    out: list[Arrival] = []
    horizon = hours * 3600
    for channel, rate in sorted(arrivals_per_hour.items()):
        if rate <= 0:
            continue
        t = 0.0
        while True:
            t += rng.expovariate(rate / 3600)
            if t >= horizon:
                break
            text = rng.choice(texts) if texts else ""
            out.append(Arrival(t, channel, text, (), rng.expovariate(1 / (handle_minutes * 60)), f"c{len(out)}"))
    out.sort(key=lambda a: a.at)
    return out


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(slots=True)
class _Waiting:
    index: int
    arrival: Arrival
    lead_type: str
    priority: int
    route: Route


def simulate(
    rules: Rules,
    operators: Iterable[SimOperator],
    arrivals: Sequence[Arrival],
    target_seconds: float = 60.0,
    is_open: IsOpen = always_open,
    start: datetime | None = None,
) -> dict[str, Any]:
    """Per-team load, wait percentiles and the share answered within `target_seconds`."""
    staff = {o.id: o for o in operators}
    by_team: dict[str, list[SimOperator]] = defaultdict(list)
    for operator in staff.values():
        for team_name in operator.teams:
            by_team[team_name].append(operator)
    priorities = {t.id: t.priority for t in rules.lead_types}
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    classified: dict[tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...]], str | None] = {}
    releases: list[tuple[float, int, int, str]] = []  # (time, seq, operator id, kind)
    waiting: list[_Waiting] = []
    waits: dict[str, list[float]] = defaultdict(list)
    handled: dict[str, int] = defaultdict(int)
    per_operator: dict[int, int] = defaultdict(int)
    unrouted = 0
    seq = 0

    def try_assign(item: _Waiting, now: float) -> bool:
        nonlocal seq
        route = item.route
        kind = channel_kind(item.arrival.channel)
        stages = [(route.team, route.required_skills)]
        if route.overflow is not None and now - item.arrival.at >= route.overflow.after_seconds:
            stages.append(
                (
                    route.overflow.team or route.team,
                    {} if route.overflow.drop_required_skills else route.required_skills,
                )
            )
        for team, required in stages:
            members = staff.values() if team is None else by_team.get(team, ())
            able = [
                o
                for o in members
                if o.load[kind] < o.capacity.get(kind, 0)
                and missing_skill(o.skills, required) is None
                and is_online(o, now)
            ]
            if not able:
                continue
            best = min(able, key=lambda o: _rank(o, kind, route))
            chosen = staff[best.id]
            chosen.load[kind] += 1
            chosen.last_assigned = now
            per_operator[chosen.id] += 1
            team_name = team or "-"
            waits[team_name].append(now - item.arrival.at)
            handled[team_name] += 1
            seq += 1
            heapq.heappush(releases, (now + item.arrival.handle_seconds, seq, chosen.id, kind))
            return True
        return False

    def serve(now: float) -> None:
        waiting.sort(key=lambda w: (w.priority, w.arrival.at, w.index))
        kept = []
        for item in waiting:
            if not try_assign(item, now):
                kept.append(item)
        waiting[:] = kept

    # Moments someone comes online: waiting conversations may be served then, as after a release.
    comings = sorted({start for o in staff.values() for start, _ in o.online or () if start > 0})
    next_coming = 0

    def next_event() -> float:
        release_at = releases[0][0] if releases else float("inf")
        return min(release_at, comings[next_coming] if next_coming < len(comings) else float("inf"))

    def advance(until: float) -> None:
        """Free operators and bring them online up to `until`, serving the queue at each moment."""
        nonlocal next_coming
        while (when := next_event()) <= until:
            while releases and releases[0][0] <= when:
                _, _, operator_id, kind = heapq.heappop(releases)
                staff[operator_id].load[kind] -= 1
            while next_coming < len(comings) and comings[next_coming] <= when:
                next_coming += 1
            if waiting:
                serve(when)

    for index, arrival in enumerate(arrivals):
        advance(arrival.at)
        key = (arrival.channel, arrival.text, arrival.contact_tags, arrival.source)
        if key not in classified:
            subject = Subject(
                channel=arrival.channel,
                text=arrival.text,
                contact_tags=arrival.contact_tags,
                source=dict(arrival.source),
                at=start + timedelta(seconds=arrival.at),
            )
            lead = classify(rules, subject, is_open)
            classified[key] = lead.id if lead else None
        lead_type = classified[key]
        route = rules.route_for(lead_type)
        if route is None or lead_type is None:
            unrouted += 1
            continue
        item = _Waiting(index, arrival, lead_type, priorities.get(lead_type, 1000), route)
        if not try_assign(item, arrival.at):
            waiting.append(item)
    horizon = arrivals[-1].at if arrivals else 0.0
    while waiting and (when := next_event()) < float("inf"):
        advance(when)
        horizon = max(horizon, when)
    total = sum(handled.values())
    teams = {}
    for team, values in sorted(waits.items()):
        teams[team] = {
            "conversations": handled[team],
            "share": handled[team] / total if total else 0.0,
            "wait_p50_seconds": percentile(values, 0.5),
            "wait_p90_seconds": percentile(values, 0.9),
            "wait_p99_seconds": percentile(values, 0.99),
            "answered_within_target": sum(1 for v in values if v <= target_seconds) / len(values),
        }
    loads = list(per_operator.values())
    return {
        "arrivals": len(arrivals),
        "assigned": total,
        "never_assigned": len(waiting),
        "unrouted": unrouted,
        "simulated_hours": horizon / 3600,
        "target_seconds": target_seconds,
        "teams": teams,
        "per_operator": {"max": max(loads, default=0), "min": min(loads, default=0), "operators": len(staff)},
    }
