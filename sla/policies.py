"""The SLA policy document (calendars + policies), its validation and the policy matcher."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lines.sla.calendar import Calendar, CalendarError

TARGETS = ("first_response", "next_response", "resolution")
Target = Literal["first_response", "next_response", "resolution"]
PRIORITY_ORDER = ("low", "normal", "high", "urgent")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalendarDoc(_Doc):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    timezone: str = "UTC"
    week: dict[str, list[str]] = {}
    holidays: str | None = None
    extra_holidays: list[str] = []
    extra_workdays: list[str] = []
    always_open: bool = False

    def build(self) -> Calendar:
        return Calendar.from_config(self.model_dump())


class AppliesTo(_Doc):
    """Every given list must contain the conversation's value (tags: share at least one)."""

    lead_types: list[str] | None = None
    channels: list[str] | None = None
    priorities: list[str] | None = None
    tags: list[str] | None = None


class Escalation(_Doc):
    on: Literal["warning", "breached"]
    target: Target | None = None  # any target when omitted
    notify: list[Literal["assignee", "lead"]] = []
    raise_priority: bool = False
    reassign: str | None = None  # "team": back to its team's queue; otherwise another team's name
    # Whether those in `notify` also get an email (`[notifications.email]`); omitted: yes when
    # staff mail is configured. Strict, so a typo like "yes" is refused rather than read as true.
    email: Annotated[bool, Field(strict=True)] | None = None

    @model_validator(mode="after")
    def _email_needs_someone(self) -> Escalation:
        if self.email and not self.notify:
            raise PointedError("/email", "true needs someone to write to in notify")
        return self


Seconds = Annotated[int, Field(gt=0, le=366 * 86400)]


class Policy(_Doc):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    applies_to: AppliesTo = AppliesTo()
    calendar: str
    first_response_seconds: Seconds | None = None
    next_response_seconds: Seconds | None = None
    resolution_seconds: Seconds | None = None
    warn_at: Annotated[float, Field(gt=0, le=1)] = 0.8
    count_bot_replies: bool = False
    escalations: list[Escalation] = []

    def seconds(self, target: str) -> int | None:
        value: int | None = getattr(self, f"{target}_seconds")
        return value

    def matches(self, lead_type: str | None, channel: str, priority: str, tags: list[str]) -> bool:
        rule = self.applies_to
        if rule.lead_types is not None and lead_type not in rule.lead_types:
            return False
        if rule.channels is not None and channel not in rule.channels:
            return False
        if rule.priorities is not None and priority not in rule.priorities:
            return False
        return not (rule.tags is not None and not set(rule.tags) & set(tags))


class PolicyDocument(_Doc):
    calendars: list[CalendarDoc]
    policies: list[Policy]

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDocument:
        calendar_ids = [c.id for c in self.calendars]
        for i, calendar in enumerate(self.calendars):
            if calendar_ids.index(calendar.id) != i:
                raise PointedError(f"/calendars/{i}/id", f"{calendar.id!r} is already the id of another calendar")
        policy_ids = [p.id for p in self.policies]
        for i, policy in enumerate(self.policies):
            if policy_ids.index(policy.id) != i:
                raise PointedError(f"/policies/{i}/id", f"{policy.id!r} is already the id of another policy")
        for i, calendar in enumerate(self.calendars):
            try:
                calendar.build()
            except CalendarError as err:
                raise PointedError(f"/calendars/{i}", f"calendar {calendar.id!r}: {err}") from err
        for i, policy in enumerate(self.policies):
            if policy.calendar not in calendar_ids:
                raise PointedError(f"/policies/{i}/calendar", f"unknown calendar {policy.calendar!r}")
        return self


class PointedError(ValueError):
    """A problem of the document as a whole, located by a JSON pointer (RFC 6901)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer_errors(err: ValidationError) -> str:
    """`/policies/0/calendar: unknown calendar 'mars'; /calendars/1/timezone: ...` for the API."""
    parts = []
    for problem in err.errors(include_url=False):
        pointer = "".join(f"/{_escape(p)}" for p in problem["loc"])
        message = problem["msg"]
        cause = (problem.get("ctx") or {}).get("error")
        if isinstance(cause, PointedError):
            pointer, message = pointer + cause.pointer, str(cause)
        parts.append(f"{pointer or '/'}: {message}")
    return "; ".join(parts)


@dataclass(frozen=True)
class PolicySet:
    """A validated document with its calendars built, ready to match conversations."""

    document: PolicyDocument
    calendars: dict[str, Calendar]

    @classmethod
    def of(cls, document: PolicyDocument) -> PolicySet:
        return cls(document, {c.id: c.build() for c in document.calendars})

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> PolicySet:
        return cls.of(PolicyDocument.model_validate(raw))

    def policy(self, policy_id: str | None) -> Policy | None:
        return next((p for p in self.document.policies if p.id == policy_id), None)

    def match(self, lead_type: str | None, channel: str, priority: str, tags: list[str]) -> Policy | None:
        """The first policy whose `applies_to` admits the conversation, or None."""
        return next((p for p in self.document.policies if p.matches(lead_type, channel, priority, tags)), None)

    def calendar(self, policy: Policy) -> Calendar:
        return self.calendars[policy.calendar]


def load_seed(path: str = "") -> dict[str, Any]:
    """The seed document: `[sla] policies_file` when set, else the packaged config/sla.json."""
    if path:
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        return data
    text = resources.files("lines.config").joinpath("sla.json").read_text(encoding="utf-8")
    seeded: dict[str, Any] = json.loads(text)
    return seeded
