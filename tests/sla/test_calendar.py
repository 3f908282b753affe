"""Business-time arithmetic on fixed instants: the calendar never reads the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lines.sla.calendar import Calendar, CalendarError

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600


def office(timezone: str = "Europe/Moscow", **extra: object) -> Calendar:
    week = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    return Calendar.from_config({"id": "office", "timezone": timezone, "week": week, **extra})


def test_time_added_on_friday_evening_continues_on_monday_morning() -> None:
    friday_17 = datetime(2026, 11, 20, 17, 0, tzinfo=MSK)
    assert office().add_working_time(friday_17, 2 * HOUR) == datetime(2026, 11, 23, 10, 0, tzinfo=MSK)


def test_weekend_adds_no_working_time() -> None:
    calendar = office()
    assert (
        calendar.working_seconds_between(
            datetime(2026, 11, 21, 0, 0, tzinfo=MSK), datetime(2026, 11, 23, 9, 0, tzinfo=MSK)
        )
        == 0
    )


def test_russian_new_year_holidays_are_skipped() -> None:
    calendar = office(holidays="RU")
    # Tuesday 30 December 2025, 17:00; 31 December is a transferred day off, 1-11 January are holidays.
    start = datetime(2025, 12, 30, 17, 0, tzinfo=MSK)
    assert calendar.add_working_time(start, 2 * HOUR) == datetime(2026, 1, 12, 10, 0, tzinfo=MSK)


def test_transferred_working_saturday_counts() -> None:
    calendar = office(holidays="RU")
    # Saturday 2 November 2024 was worked in exchange for Tuesday 30 April.
    assert calendar.is_working_day(date(2024, 11, 2))
    assert not calendar.is_working_day(date(2024, 4, 30))
    friday_17 = datetime(2024, 11, 1, 17, 0, tzinfo=MSK)
    assert calendar.add_working_time(friday_17, 2 * HOUR) == datetime(2024, 11, 2, 10, 0, tzinfo=MSK)


def test_extra_holidays_and_extra_workdays_override_the_country_calendar() -> None:
    calendar = office(holidays="RU", extra_holidays=["2026-11-25"], extra_workdays=["2026-01-05"])
    assert not calendar.is_working_day(date(2026, 11, 25))
    assert calendar.is_working_day(date(2026, 1, 5))


def test_moscow_has_no_daylight_saving_shift() -> None:
    calendar = Calendar.from_config(
        {
            "id": "msk",
            "timezone": "Europe/Moscow",
            "always_open": False,
            "week": {d: ["00:00-24:00"] for d in ("sat", "sun")},
        }
    )
    # The last Sunday of March: Berlin loses an hour, Moscow does not.
    start = datetime(2026, 3, 28, 0, 0, tzinfo=MSK)
    assert calendar.working_seconds_between(start, start + timedelta(days=2)) == 48 * HOUR


def test_berlin_spring_forward_inside_a_deadline_shortens_the_night_shift() -> None:
    night = {d: ["22:00-06:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = Calendar.from_config({"id": "night", "timezone": "Europe/Berlin", "week": night})
    # Night of 28-29 March 2026: clocks jump 02:00 -> 03:00, so the shift has 7 real hours.
    start = datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN)
    end = calendar.add_working_time(start, 7 * HOUR)
    assert end == datetime(2026, 3, 29, 6, 0, tzinfo=BERLIN)
    assert calendar.working_seconds_between(start, end) == 7 * HOUR


def test_berlin_fall_back_lengthens_a_shift_by_an_hour() -> None:
    night = {d: ["22:00-06:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = Calendar.from_config({"id": "night", "timezone": "Europe/Berlin", "week": night})
    start = datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN)
    assert calendar.working_seconds_between(start, datetime(2026, 10, 25, 6, 0, tzinfo=BERLIN)) == 9 * HOUR


def test_shift_over_midnight_continues_after_midnight() -> None:
    calendar = Calendar.from_config({"id": "night", "timezone": "UTC", "week": {"mon": ["20:00-04:00"]}})
    monday_23 = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert calendar.is_open(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    assert not calendar.is_open(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    assert calendar.add_working_time(monday_23, 2 * HOUR) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    # Five hours: the one hour left tonight, the rest next Monday night.
    assert calendar.add_working_time(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), 5 * HOUR) == datetime(
        2026, 12, 1, 0, 0, tzinfo=UTC
    )


def test_next_open_is_the_start_of_the_next_shift() -> None:
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=MSK)
    assert office().next_open(saturday) == datetime(2026, 11, 23, 9, 0, tzinfo=MSK)
    tuesday_10 = datetime(2026, 11, 24, 10, 0, tzinfo=MSK)
    assert office().next_open(tuesday_10) == tuesday_10


def test_always_open_calendar_is_plain_elapsed_time() -> None:
    calendar = Calendar.from_config({"id": "24x7", "always_open": True})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert calendar.add_working_time(start, 90) == start + timedelta(seconds=90)


def test_calendar_without_working_hours_is_refused() -> None:
    with pytest.raises(CalendarError):
        Calendar.from_config({"id": "never", "timezone": "UTC", "week": {}})


def test_bad_shift_text_is_refused() -> None:
    with pytest.raises(CalendarError, match="HH:MM"):
        Calendar.from_config({"id": "bad", "week": {"mon": ["9-18"]}})


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        office().add_working_time(datetime(2026, 1, 1), 10)  # noqa: DTZ001


CALENDARS = [
    office(holidays="RU", extra_holidays=["2026-12-31"]),
    office("Europe/Berlin"),
    Calendar.from_config(
        {"id": "night", "timezone": "Europe/Berlin", "week": {"fri": ["22:00-06:00"], "sat": ["20:00-02:30"]}}
    ),
]
instants = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))  # noqa: DTZ001


@settings(max_examples=150, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=instants, seconds=st.integers(min_value=1, max_value=400 * HOUR))
def test_time_added_then_measured_is_the_same_duration(calendar: Calendar, start: datetime, seconds: int) -> None:
    end = calendar.add_working_time(start, seconds)
    assert calendar.working_seconds_between(start, end) == pytest.approx(seconds, abs=1e-6)
    assert calendar.is_open(end - timedelta(microseconds=1))


@settings(max_examples=100, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), a=instants, b=instants, c=instants)
def test_measured_working_time_adds_up_over_consecutive_spans(
    calendar: Calendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    total = calendar.working_seconds_between(a, c)
    assert total == pytest.approx(
        calendar.working_seconds_between(a, b) + calendar.working_seconds_between(b, c), abs=1e-6
    )
