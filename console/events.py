"""Operator events: one funnel that publishes on the bus with the audience allowed to see them.

Every event carries the conversation's team and assignee at publish time; each process filters
per connected operator with `Scope.can_see`, so a push never reaches someone who could not read
the conversation through the API.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from lines.console.access import Scope
from lines.console.bus import EventBus
from lines.console.changes import ChangeJob, to_payload
from lines.console.models import Conversation

log = logging.getLogger(__name__)
EVENTS_TOPIC = "events"
CHANGES_QUEUE = "inbound"
"""The work queue of conversation changes. Each job is handled by exactly one worker, which runs
every registered processor (bot, routing, SLA, customers) on it in order. Jobs are the dataclasses
of `console/changes.py`, queued as `{"kind": ..., ...}`."""


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may receive an event. `everyone` is all staff; `leads` leads and admins (what their lead
    pages show, such as the live queue); `operator_ids` a direct audience."""

    team_id: int | None = None
    assignee_id: int | None = None
    everyone: bool = False
    operator_ids: tuple[int, ...] = ()
    conversation: bool = True
    leads: bool = False

    @classmethod
    def of(cls, conversation: Conversation) -> Audience:
        return cls(team_id=conversation.team_id, assignee_id=conversation.assignee_id)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Audience:
        return cls(
            team_id=raw.get("team_id"),
            assignee_id=raw.get("assignee_id"),
            everyone=bool(raw.get("everyone")),
            operator_ids=tuple(raw.get("operator_ids") or ()),
            conversation=bool(raw.get("conversation", True)),
            leads=bool(raw.get("leads")),
        )

    def admits(self, scope: Scope) -> bool:
        if self.everyone:
            return True
        if self.leads:
            return scope.is_lead
        if self.operator_ids:
            return scope.operator_id in self.operator_ids
        if not self.conversation:
            return False
        return scope.can_see(self.team_id, self.assignee_id)


class Events:
    """`send_event`: the single way state changes reach consoles."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def send(self, type_: str, data: dict[str, Any], audience: Audience) -> None:
        """Publish after the write is committed. Never raises for a bus outage: the store already has
        the change, and consoles resync from it when the bus reconnects."""
        try:
            await self._publish(type_, data, audience)
        except ConnectionError as err:
            log.warning("event %s not published, bus unavailable: %s", type_, err)

    async def change(self, job: ChangeJob) -> None:
        """Queue a committed change for the processors. Never raises for a bus outage: processors
        that depend on a change also sweep the store, so a lost job delays work but loses none."""
        try:
            await self.bus.enqueue(CHANGES_QUEUE, to_payload(job))
        except ConnectionError as err:
            log.warning("change %s not queued, bus unavailable: %s", job, err)

    async def _publish(self, type_: str, data: dict[str, Any], audience: Audience) -> None:
        await self.bus.publish(
            EVENTS_TOPIC,
            {
                "id": uuid.uuid4().hex,
                "type": type_,
                "at": datetime.now(UTC).isoformat(),
                "data": data,
                "audience": asdict(audience),
            },
        )
