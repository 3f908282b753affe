"""Business hours for the rest of Lines, from the SLA calendars.

The bot asks whether operators are at work and when they are back; routing's `business_hours`
condition asks whether a team works now. Teams have no calendar of their own yet, so both use the
calendar of the catch-all policy (the first whose `applies_to` is empty; else the last policy): the
office hours the SLA clocks of ordinary conversations run on. Read at call time, so a policy change
published through the API applies at once.
"""

from __future__ import annotations

from datetime import datetime

from lines.sla.calendar import Calendar
from lines.sla.policies import AppliesTo
from lines.sla.service import SlaService


class SlaHours:
    def __init__(self, service: SlaService) -> None:
        self._service = service

    def calendar(self) -> Calendar | None:
        policies = self._service.policies
        if policies is None or not policies.document.policies:
            return None
        catch_all = next(
            (p for p in policies.document.policies if p.applies_to == AppliesTo()), policies.document.policies[-1]
        )
        return policies.calendar(catch_all)

    def is_open(self, at: datetime) -> bool:
        calendar = self.calendar()
        return True if calendar is None else calendar.is_open(at)

    def next_open(self, at: datetime) -> datetime | None:
        calendar = self.calendar()
        return at if calendar is None else calendar.next_open(at)

    def team_is_open(self, team: str | None, at: datetime) -> bool:
        return self.is_open(at)
