"""The routing rules document: parsed from untrusted JSON into frozen dataclasses, or refused.

The same JSON shape is used by the API, the editor and `config/routing.json`. `parse_rules` either
returns `Rules` or raises `RulesError` whose `problems` are `(JSON pointer, message)` pairs naming
every field that is wrong, so the editor can point at it and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

STRATEGIES = ("least_loaded", "round_robin", "longest_idle")
LANGUAGES = ("ru", "en")
CONDITIONS = (
    "channels",
    "keywords_any",
    "regex",
    "language",
    "contact_tags_any",
    "returning_customer",
    "source",
    "business_hours",
)
CHANNEL_KINDS = ("chat", "email")
ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_ITEMS = 200


class RulesError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{pointer or '/'}: {message}" for pointer, message in problems))


@dataclass(frozen=True, slots=True)
class When:
    channels: tuple[str, ...] | None = None
    keywords_any: tuple[str, ...] | None = None
    regex: re.Pattern[str] | None = None
    language: str | None = None
    contact_tags_any: tuple[str, ...] | None = None
    returning_customer: bool | None = None
    source: tuple[tuple[str, str], ...] | None = None
    business_hours: str | None = None


@dataclass(frozen=True, slots=True)
class LeadType:
    id: str
    priority: int
    when: When


@dataclass(frozen=True, slots=True)
class Overflow:
    after_seconds: int
    team: str | None = None
    drop_required_skills: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    lead_type: str
    team: str | None
    required_skills: dict[str, int] = field(default_factory=dict)
    preferred_skills: dict[str, int] = field(default_factory=dict)
    strategy: str = "least_loaded"
    overflow: Overflow | None = None
    reply_within_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Sticky:
    enabled: bool = True
    within_days: int = 30


@dataclass(frozen=True, slots=True)
class QueueNotice:
    """What the customer is told when nobody can take them at once."""

    enabled: bool = False
    text: str = "You are number {{queue.position}} in line. Expected wait: about {{queue.wait_minutes}} min."
    seconds_per_position: int = 120
    notify_again_when_moved: int = 3


@dataclass(frozen=True, slots=True)
class Rules:
    lead_types: tuple[LeadType, ...] = ()
    routes: tuple[Route, ...] = ()
    sticky: Sticky = Sticky()
    queue_notice: QueueNotice = QueueNotice()
    requeue_on_offline: tuple[str, ...] = ("chat",)
    document: dict[str, Any] = field(default_factory=dict, compare=False)

    def route_for(self, lead_type: str | None) -> Route | None:
        for route in self.routes:
            if route.lead_type == lead_type:
                return route
        return None

    def by_priority(self) -> list[LeadType]:
        """Lead types in the order they are tried: priority, then their order in the document."""
        return sorted(self.lead_types, key=lambda t: t.priority)


class _Reader:
    """Collects problems while walking the document, so one answer lists every wrong field."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append((pointer, message))

    def obj(self, value: Any, pointer: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(pointer, "must be an object")
            return {}
        for key in value:
            if key not in allowed:
                self.fail(f"{pointer}/{_escape(key)}", f"unknown field; expected one of {', '.join(allowed)}")
        return value

    def array(self, value: Any, pointer: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(pointer, "must be an array")
            return []
        if len(value) > MAX_ITEMS:
            self.fail(pointer, f"at most {MAX_ITEMS} items")
            return []
        return value

    def strings(self, value: Any, pointer: str, min_items: int = 1) -> tuple[str, ...] | None:
        items = self.array(value, pointer)
        if isinstance(value, list) and len(items) < min_items:
            self.fail(pointer, f"needs at least {min_items} item(s)")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{pointer}/{i}", "must be a non-empty string")
            else:
                out.append(item.strip())
        return tuple(out)

    def integer(self, value: Any, pointer: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(pointer, "must be an integer")
            return low
        if not low <= value <= high:
            self.fail(pointer, f"must be between {low} and {high}")
        return value

    def boolean(self, value: Any, pointer: str) -> bool:
        if not isinstance(value, bool):
            self.fail(pointer, "must be true or false")
            return False
        return value

    def skills(self, value: Any, pointer: str) -> dict[str, int]:
        raw = self.obj(value, pointer, tuple(value) if isinstance(value, dict) else ())
        out = {}
        for name, level in raw.items():
            if not ID.match(name):
                self.fail(f"{pointer}/{_escape(name)}", "skill names are lowercase letters, digits, - and _")
            out[name] = self.integer(level, f"{pointer}/{_escape(name)}", 1, 10)
        return out


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _when(r: _Reader, raw: Any, pointer: str) -> When:
    data = r.obj(raw, pointer, CONDITIONS)
    values: dict[str, Any] = {}
    if "channels" in data:
        values["channels"] = r.strings(data["channels"], f"{pointer}/channels")
    if "keywords_any" in data:
        values["keywords_any"] = r.strings(data["keywords_any"], f"{pointer}/keywords_any")
    if "regex" in data:
        if not isinstance(data["regex"], str) or not data["regex"] or len(data["regex"]) > 500:
            r.fail(f"{pointer}/regex", "must be a regular expression of 1 to 500 characters")
        else:
            try:
                values["regex"] = re.compile(data["regex"], re.IGNORECASE)
            except re.error as err:
                r.fail(f"{pointer}/regex", f"not a valid regular expression: {err}")
    if "language" in data:
        if data["language"] not in LANGUAGES:
            r.fail(f"{pointer}/language", f"must be one of {', '.join(LANGUAGES)}")
        else:
            values["language"] = data["language"]
    if "contact_tags_any" in data:
        values["contact_tags_any"] = r.strings(data["contact_tags_any"], f"{pointer}/contact_tags_any")
    if "returning_customer" in data:
        values["returning_customer"] = r.boolean(data["returning_customer"], f"{pointer}/returning_customer")
    if "source" in data:
        source = data["source"]
        if not isinstance(source, dict) or not source:
            r.fail(f"{pointer}/source", "must be a non-empty object of touchpoint field to value")
        else:
            pairs = []
            for key, value in source.items():
                if not isinstance(value, str) or not value:
                    r.fail(f"{pointer}/source/{_escape(key)}", "must be a non-empty string (end with * for a prefix)")
                else:
                    pairs.append((str(key), value))
            values["source"] = tuple(pairs)
    if "business_hours" in data:
        if data["business_hours"] not in ("in", "out"):
            r.fail(f"{pointer}/business_hours", "must be in or out")
        else:
            values["business_hours"] = data["business_hours"]
    return When(**values)


def parse_rules(document: Any) -> Rules:
    """`Rules` from a decoded JSON document, or `RulesError` listing every problem."""
    r = _Reader()
    top = r.obj(document, "", ("lead_types", "routes", "sticky", "queue_notice", "requeue_on_offline"))
    lead_types: list[LeadType] = []
    seen: set[str] = set()
    for i, raw in enumerate(r.array(top.get("lead_types", []), "/lead_types")):
        pointer = f"/lead_types/{i}"
        item = r.obj(raw, pointer, ("id", "priority", "when"))
        type_id = item.get("id")
        if not isinstance(type_id, str) or not ID.match(type_id):
            r.fail(f"{pointer}/id", "must be an id: lowercase letters, digits, - and _")
            type_id = ""
        elif type_id in seen:
            r.fail(f"{pointer}/id", f"lead type {type_id!r} is defined twice")
        seen.add(type_id)
        priority = r.integer(item.get("priority", 5), f"{pointer}/priority", 0, 1000)
        lead_types.append(LeadType(type_id, priority, _when(r, item.get("when", {}), f"{pointer}/when")))
    routes: list[Route] = []
    routed: set[str] = set()
    for i, raw in enumerate(r.array(top.get("routes", []), "/routes")):
        pointer = f"/routes/{i}"
        item = r.obj(
            raw,
            pointer,
            (
                "lead_type",
                "team",
                "required_skills",
                "preferred_skills",
                "strategy",
                "overflow",
                "reply_within_seconds",
            ),
        )
        lead_type = item.get("lead_type")
        if lead_type not in seen or not lead_type:
            r.fail(f"{pointer}/lead_type", f"unknown lead type {lead_type!r}")
        elif lead_type in routed:
            r.fail(f"{pointer}/lead_type", f"lead type {lead_type!r} has two routes")
        routed.add(str(lead_type))
        team = item.get("team")
        if team is not None and (not isinstance(team, str) or not ID.match(team)):
            r.fail(f"{pointer}/team", "must be a team name")
        strategy = item.get("strategy", "least_loaded")
        if strategy not in STRATEGIES:
            r.fail(f"{pointer}/strategy", f"must be one of {', '.join(STRATEGIES)}")
        overflow = None
        if "overflow" in item:
            o = r.obj(item["overflow"], f"{pointer}/overflow", ("after_seconds", "team", "drop_required_skills"))
            o_team = o.get("team")
            if o_team is not None and (not isinstance(o_team, str) or not ID.match(o_team)):
                r.fail(f"{pointer}/overflow/team", "must be a team name")
            overflow = Overflow(
                r.integer(o.get("after_seconds"), f"{pointer}/overflow/after_seconds", 0, 7 * 86400),
                o_team,
                r.boolean(o.get("drop_required_skills", False), f"{pointer}/overflow/drop_required_skills"),
            )
        reply_within = None
        if item.get("reply_within_seconds") is not None:
            reply_within = r.integer(item["reply_within_seconds"], f"{pointer}/reply_within_seconds", 10, 7 * 86400)
        routes.append(
            Route(
                str(lead_type),
                team,
                r.skills(item.get("required_skills", {}), f"{pointer}/required_skills"),
                r.skills(item.get("preferred_skills", {}), f"{pointer}/preferred_skills"),
                strategy,
                overflow,
                reply_within,
            )
        )
    sticky = Sticky()
    if "sticky" in top:
        s = r.obj(top["sticky"], "/sticky", ("enabled", "within_days"))
        sticky = Sticky(
            r.boolean(s.get("enabled", True), "/sticky/enabled"),
            r.integer(s.get("within_days", 30), "/sticky/within_days", 1, 3650),
        )
    notice = QueueNotice()
    if "queue_notice" in top:
        q = r.obj(
            top["queue_notice"], "/queue_notice", ("enabled", "text", "seconds_per_position", "notify_again_when_moved")
        )
        text = q.get("text", notice.text)
        if not isinstance(text, str) or not text.strip() or len(text) > 1000:
            r.fail("/queue_notice/text", "must be text of 1 to 1000 characters")
            text = notice.text
        notice = QueueNotice(
            r.boolean(q.get("enabled", False), "/queue_notice/enabled"),
            text,
            r.integer(q.get("seconds_per_position", 120), "/queue_notice/seconds_per_position", 1, 86400),
            r.integer(q.get("notify_again_when_moved", 3), "/queue_notice/notify_again_when_moved", 1, 10000),
        )
    requeue: tuple[str, ...] = ("chat",)
    if "requeue_on_offline" in top:
        requeue = r.strings(top["requeue_on_offline"], "/requeue_on_offline", min_items=0) or ()
        for i, kind in enumerate(requeue):
            if kind not in CHANNEL_KINDS:
                r.fail(f"/requeue_on_offline/{i}", f"must be one of {', '.join(CHANNEL_KINDS)}")
    if r.problems:
        raise RulesError(r.problems)
    return Rules(tuple(lead_types), tuple(routes), sticky, notice, requeue, document)


def route_teams(rules: Rules) -> Iterator[tuple[str, str]]:
    """(JSON pointer, team name) of every team the rules name, to check they exist."""
    for i, route in enumerate(rules.routes):
        if route.team:
            yield f"/routes/{i}/team", route.team
        if route.overflow and route.overflow.team:
            yield f"/routes/{i}/overflow/team", route.overflow.team


def channel_kind(channel: str) -> str:
    """Capacity is counted per kind: email, or chat for everything live (web chat, Telegram, SMS)."""
    return "email" if channel == "email" else "chat"
