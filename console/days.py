"""Days a report may be asked for: ISO dates (`2026-01-31`) between 2000-01-01 and a year from today.

Anything else is refused rather than read loosely: pydantic would take `to=0` as the Unix epoch
(1970-01-01), and a year 1 or 9999 only makes a report scan nothing for a long time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

FIRST_DAY = date(2000, 1, 1)
DAYS_AHEAD = 366
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def report_day(raw: Any) -> date:
    """`raw` as a report day; ValueError (naming the accepted range) otherwise."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        day = raw
    elif isinstance(raw, str) and ISO_DAY.match(raw.strip()):
        day = date.fromisoformat(raw.strip())
    else:
        raise ValueError("must be a date like 2026-01-31")
    last = datetime.now(UTC).date() + timedelta(days=DAYS_AHEAD)
    if not FIRST_DAY <= day <= last:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {last.isoformat()}")
    return day


def report_day_or_none(raw: str | None) -> date | None:
    """For pages: the day, or None when it is missing, malformed or out of range."""
    try:
        return report_day(raw) if raw else None
    except ValueError:
        return None


ReportDay = Annotated[date, BeforeValidator(report_day)]
"""A query parameter that is a report day; anything else is 422 naming the parameter."""
