"""Change jobs: what the core queues after a committed change, one frozen dataclass per kind.

`Events.change` puts a job on the changes queue as `{"kind": ..., **fields}` (JSON, in-process or
over Redis Streams); the worker that takes it turns it back into its dataclass with `from_payload`
and hands it to every part's change processor, which dispatches on the job's type through a table.
The kinds and their fields are listed in docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

log = logging.getLogger(__name__)
_OPTIONAL = {"optional": True}
"""Field metadata: left out of the payload when None (an older worker never saw it)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """The inbox stored a customer message."""

    kind: ClassVar[str] = "inbound"
    message_id: int
    conversation_id: int
    conversation_created: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A public reply or an automated message; `author_kind` is `operator`, `bot` or `system`."""

    kind: ClassVar[str] = "reply"
    conversation_id: int
    message_id: int
    author_kind: str


@dataclass(frozen=True, slots=True)
class Assigned:
    """An assignment or transfer; `by_operator_id` is None when routing made it."""

    kind: ClassVar[str] = "assigned"
    conversation_id: int
    operator_id: int | None
    previous_operator_id: int | None
    by_operator_id: int | None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """A conversation's status changed (an operator, the snooze or follow-up waker)."""

    kind: ClassVar[str] = "status"
    conversation_id: int
    status: str
    previous: str


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    """An operator or lead set a conversation's priority."""

    kind: ClassVar[str] = "priority"
    conversation_id: int
    priority: str
    previous: str


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """An operator's presence changed."""

    kind: ClassVar[str] = "presence"
    operator_id: int
    presence: str


@dataclass(frozen=True, slots=True)
class Handoff:
    """The bot gives a conversation to routing."""

    kind: ClassVar[str] = "handoff"
    conversation_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """Route a conversation again (an SLA escalation), to `team` when given."""

    kind: ClassVar[str] = "requeue"
    conversation_id: int
    reason: str
    team: str | None = field(default=None, metadata=_OPTIONAL)


@dataclass(frozen=True, slots=True)
class OperatorChanged:
    """An operator's name, teams, skills, capacity or active flag changed; `more_room` when they can
    now take more (capacity grew, a skill added or raised, a team added, reactivated)."""

    kind: ClassVar[str] = "operator"
    operator_id: int
    more_room: bool


ChangeJob: TypeAlias = (
    Inbound | Reply | Assigned | StatusChanged | PriorityChanged | PresenceChanged | Handoff | Requeue | OperatorChanged
)
JOB_TYPES: tuple[type[ChangeJob], ...] = (
    Inbound,
    Reply,
    Assigned,
    StatusChanged,
    PriorityChanged,
    PresenceChanged,
    Handoff,
    Requeue,
    OperatorChanged,
)
BY_KIND: Mapping[str, type[ChangeJob]] = {cls.kind: cls for cls in JOB_TYPES}


def to_payload(job: ChangeJob) -> dict[str, Any]:
    """The queue's JSON form: `{"kind": ..., **fields}`."""
    payload: dict[str, Any] = {"kind": job.kind}
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if value is None and f.metadata.get("optional"):
            continue
        payload[f.name] = value
    return payload


def from_payload(payload: Mapping[str, Any]) -> ChangeJob | None:
    """The job a payload describes, or None (logged) for an unknown kind or missing fields; fields a
    newer worker added are ignored."""
    cls = BY_KIND.get(str(payload.get("kind")))
    if cls is None:
        log.warning("change job of unknown kind dropped: %s", payload)
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in payload.items() if k in names})
    except TypeError as err:
        log.warning("change job %s dropped: %s", payload, err)
        return None
