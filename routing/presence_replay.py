"""Who was online when, from the presence history, as the what-if simulator's online spans.

Every presence change is recorded (`presence_changes`). Over a window, an operator is online from
each change to `online` until the next change to anything else. Before their first recorded change
inside or before the window their presence is unknown and counts as offline; an operator with no
recorded change at all has had their current presence since before the history began, so that
presence holds for the whole window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.models import Operator, Presence, PresenceChange

Spans = tuple[tuple[float, float], ...]


async def online_spans(
    session: AsyncSession, operators: Iterable[Operator], since: datetime, until: datetime
) -> dict[int, Spans]:
    """Seconds from `since` during which each operator was online, up to `until`."""
    staff = {o.id: o for o in operators}
    changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    rows = await session.execute(
        select(PresenceChange.operator_id, PresenceChange.at, PresenceChange.presence)
        .where(PresenceChange.operator_id.in_(staff), PresenceChange.at < until)
        .order_by(PresenceChange.operator_id, PresenceChange.at, PresenceChange.id)
    )
    for operator_id, at, presence in rows:
        changes[operator_id].append((at, presence))
    end = (until - since).total_seconds()
    spans: dict[int, Spans] = {}
    for operator_id, operator in staff.items():
        history = changes.get(operator_id)
        if not history:
            spans[operator_id] = ((0.0, end),) if operator.presence == Presence.ONLINE else ()
            continue
        found: list[tuple[float, float]] = []
        started: float | None = None
        for at, presence in history:
            offset = max(0.0, (at - since).total_seconds())
            if presence == Presence.ONLINE and started is None:
                started = offset
            elif presence != Presence.ONLINE and started is not None:
                if offset > started:
                    found.append((started, offset))
                started = None
        if started is not None and end > started:
            found.append((started, end))
        spans[operator_id] = tuple(found)
    return spans
