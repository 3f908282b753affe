"""Business hours for the rest of Lines, from the SLA calendars: the core's `hours_key`.

The core's availability (`console/open_now.py`) asks it when operators are back and whether
routing's `business_hours` condition holds; the bot and routing read that answer, never this
object. Teams have no calendar of their own yet, so it is the calendar of the catch-all policy (the
first whose `applies_to` is empty; else the last policy): the office hours the SLA clocks of
ordinary conversations run on. Its zone is the default for times shown to customers. Read at call
time, so a policy change published through the API applies at once.
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

    def time_zone(self) -> str:
        calendar = self.calendar()
        return "UTC" if calendar is None else calendar.timezone

    def team_is_open(self, team: str | None, at: datetime) -> bool:
        return self.is_open(at)
