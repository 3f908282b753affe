"""Business-time arithmetic: working intervals of a calendar, adding and measuring working time.

A calendar is a week of shifts in a local time zone, minus public holidays (the `holidays` package,
e.g. the Russian production calendar), plus its transferred working days, with per-calendar
`extra_holidays` / `extra_workdays` overrides. Shifts may cross midnight ("22:00-06:00"). All
arithmetic is on real elapsed time: a shift that contains a DST change is an hour shorter or longer.
Every datetime in and out is timezone-aware.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays as holidays_lib

_SUBSTITUTED = re.compile(r"substituted from (\d\d)/(\d\d)/(\d{4})")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar without any open time in this many days is refused rather than searched forever.
MAX_SEARCH_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar that cannot be used: bad shift text, unknown time zone or country, no open time."""


@dataclass(frozen=True, slots=True)
class Shift:
    """Open from `start` to `end` local time; `end <= start` means the shift ends the next day."""

    start: time
    end: time
    ends_next_day: bool

    @classmethod
    def parse(cls, text: str) -> Shift:
        try:
            left, right = text.split("-")
            start = _parse_time(left)
            if right.strip() == "24:00":
                return cls(start, time(0, 0), True)
            end = _parse_time(right)
        except ValueError as err:
            raise CalendarError(f"shift {text!r}: expected HH:MM-HH:MM") from err
        return cls(start, end, end <= start)


def _parse_time(text: str) -> time:
    hours, minutes = text.strip().split(":")
    if len(hours) != 2 or len(minutes) != 2:
        raise ValueError(text)
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Calendar:
    """Working hours of one team or product. Build with `Calendar.from_config` or directly in tests."""

    id: str
    timezone: str = "UTC"
    week: dict[str, tuple[Shift, ...]] = field(default_factory=dict)
    country: str | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    always_open: bool = False

    @classmethod
    def from_config(cls, raw: dict[str, object]) -> Calendar:
        """From the `calendars` entries of the policy document (see docs/sla.md)."""
        week_raw = raw.get("week") or {}
        if not isinstance(week_raw, dict):
            raise CalendarError("week: must be an object of weekday -> list of shifts")
        week: dict[str, tuple[Shift, ...]] = {}
        for day, shifts in week_raw.items():
            if day not in WEEKDAYS:
                raise CalendarError(f"week: unknown day {day!r} (use {', '.join(WEEKDAYS)})")
            if not isinstance(shifts, list):
                raise CalendarError(f"week.{day}: must be a list of shifts")
            week[day] = tuple(Shift.parse(str(s)) for s in shifts)
        try:
            extra_holidays = frozenset(date.fromisoformat(str(d)) for d in raw.get("extra_holidays") or [])  # type: ignore[attr-defined]
            extra_workdays = frozenset(date.fromisoformat(str(d)) for d in raw.get("extra_workdays") or [])  # type: ignore[attr-defined]
        except ValueError as err:
            raise CalendarError(f"extra_holidays/extra_workdays: {err}") from err
        calendar = cls(
            id=str(raw.get("id", "")),
            timezone=str(raw.get("timezone", "UTC")),
            week=week,
            country=str(raw["holidays"]) if raw.get("holidays") else None,
            extra_holidays=extra_holidays,
            extra_workdays=extra_workdays,
            always_open=bool(raw.get("always_open", False)),
        )
        calendar.check()
        return calendar

    def check(self) -> None:
        """Raise `CalendarError` unless the zone and country exist and the week has open time."""
        try:
            self.zone  # noqa: B018
        except Exception as err:
            raise CalendarError(f"unknown time zone {self.timezone!r}") from err
        if self.country is not None:
            try:
                self._holidays  # noqa: B018
            except NotImplementedError as err:
                raise CalendarError(f"unknown holiday country {self.country!r}") from err
        if not self.always_open and not any(self.week.values()):
            raise CalendarError("a calendar needs working hours in `week` or `always_open: true`")

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holidays(self) -> holidays_lib.HolidayBase:
        assert self.country is not None
        return holidays_lib.country_holidays(self.country, language="en_US")

    def _transferred_workdays(self, year: int) -> frozenset[date]:
        """Weekend days worked in exchange for a bridge day off. The `holidays` package lists the
        day off as "Day off (substituted from MM/DD/YYYY)"; the source date is a working day unless
        it is itself a holiday (New Year weekend days moved to May or December)."""
        cached = self._workday_cache.get(year)
        if cached is not None:
            return cached
        days: set[date] = set()
        table = self._holidays
        for year_ in (year - 1, year, year + 1):
            table.get(date(year_, 1, 1))  # expands the year
        for name in list(table.values()):
            for match in _SUBSTITUTED.finditer(name):
                source = date(int(match[3]), int(match[1]), int(match[2]))
                if source.year == year and source.weekday() >= 5 and source not in table:
                    days.add(source)
        result = frozenset(days)
        self._workday_cache[year] = result
        return result

    @cached_property
    def _workday_cache(self) -> dict[int, frozenset[date]]:
        return {}

    def _is_workday_override(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return self.country is not None and day in self._transferred_workdays(day.year)

    def is_working_day(self, day: date) -> bool:
        """Whether `day` (local date) has its shifts: not a holiday, or a transferred working day."""
        if self._is_workday_override(day):
            return True
        if day in self.extra_holidays:
            return False
        return not (self.country is not None and day in self._holidays)

    def shifts_on(self, day: date) -> tuple[Shift, ...]:
        """The shifts starting on local date `day`. A transferred working day on a weekend works the
        hours of the first weekday that has any (Russian practice: a Saturday worked as a Monday)."""
        if not self.is_working_day(day):
            return ()
        shifts = self.week.get(WEEKDAYS[day.weekday()], ())
        if not shifts and self._is_workday_override(day):
            shifts = next((self.week[d] for d in WEEKDAYS if self.week.get(d)), ())
        return shifts

    def _local(self, day: date, at: time) -> datetime:
        # fold=0: a wall time in a DST gap or overlap resolves to its first occurrence.
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Merged open intervals in UTC, in order, from the one containing or following `start`."""
        start = _aware(start).astimezone(UTC)
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # yesterday's night shift
        pending: tuple[datetime, datetime] | None = None
        empty_days = 0
        while True:
            todays = sorted(
                (
                    self._local(day, s.start),
                    self._local(day + timedelta(days=1) if s.ends_next_day else day, s.end),
                )
                for s in self.shifts_on(day)
            )
            empty_days = 0 if todays else empty_days + 1
            if empty_days > MAX_SEARCH_DAYS:
                raise CalendarError(f"calendar {self.id!r} has no working time in {MAX_SEARCH_DAYS} days")
            for begin, end in todays:
                if end <= begin:
                    continue  # a shift swallowed by a DST gap
                if pending is not None and begin <= pending[1]:
                    pending = (pending[0], max(pending[1], end))
                    continue
                if pending is not None and pending[1] > start:
                    yield pending
                pending = (begin, end)
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` falls in working time."""
        if self.always_open:
            return True
        begin, end = next(self.intervals(at))
        return begin <= _aware(at) < end

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else the start of the next working interval."""
        if self.always_open:
            return at
        begin, _ = next(self.intervals(at))
        return max(begin, _aware(at))

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        """The moment when `seconds` of working time have passed since `start`."""
        start = _aware(start)
        if seconds <= 0:
            return start
        if self.always_open:
            return start + timedelta(seconds=seconds)
        remaining = timedelta(seconds=seconds)
        for begin, end in self.intervals(start):
            begin = max(begin, start)
            if remaining <= end - begin:
                return (begin + remaining).astimezone(UTC)
            remaining -= end - begin
        raise AssertionError("intervals() never ends")

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working time from `a` to `b` in seconds (negative when `b` is before `a`)."""
        a, b = _aware(a), _aware(b)
        if b < a:
            return -self.working_seconds_between(b, a)
        if self.always_open:
            return (b - a).total_seconds()
        total = timedelta()
        for begin, end in self.intervals(a):
            if begin >= b:
                break
            total += min(end, b) - max(begin, a)
        return total.total_seconds()


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime given to business-time arithmetic")
    return at


ALWAYS_OPEN = Calendar(id="24x7", always_open=True)
