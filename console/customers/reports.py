"""Reports read from the rollup counters: volume, response and resolution percentiles, SLA, CSAT,
NPS, bot resolution, busiest hours, by a dimension over a date range; the touchpoint map."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.customers.models import ReportCounter
from lines.console.customers.rollups import BUCKETS

MAX_DAYS = 366


def percentile(buckets: dict[int, int], share: float) -> float | None:
    """The upper bound of the bucket holding the `share` quantile (None when there is no data or
    it lies in the open last bucket)."""
    total = sum(buckets.values())
    if not total:
        return None
    needed = share * total
    running = 0
    for index, bound in enumerate(BUCKETS):
        running += buckets.get(index, 0)
        if running >= needed:
            return None if bound == float("inf") else bound
    return None


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise(metrics: dict[str, tuple[int, float]]) -> dict[str, Any]:
    def count(name: str) -> int:
        return metrics.get(name, (0, 0.0))[0]

    def total(name: str) -> float:
        return metrics.get(name, (0, 0.0))[1]

    frt = {i: count(f"frt_b{i}") for i in range(len(BUCKETS))}
    res = {i: count(f"res_b{i}") for i in range(len(BUCKETS))}
    sla_met, sla_breached = count("sla_met"), count("sla_breached")
    nps = count("nps")
    promoters, detractors = count("nps_promoter"), count("nps_detractor")
    return {
        "conversations": count("conversations"),
        "first_response": {
            "count": count("frt"),
            "avg_seconds": round(total("frt") / count("frt"), 1) if count("frt") else None,
            "p50_seconds_at_most": percentile(frt, 0.5),
            "p90_seconds_at_most": percentile(frt, 0.9),
        },
        "resolution": {
            "count": count("resolved"),
            "avg_seconds": round(total("resolved") / count("resolved"), 1) if count("resolved") else None,
            "p50_seconds_at_most": percentile(res, 0.5),
            "p90_seconds_at_most": percentile(res, 0.9),
        },
        "sla": {"met": sla_met, "breached": sla_breached, "compliance": _ratio(sla_met, sla_met + sla_breached)},
        "csat": {
            "count": count("csat"),
            "average": round(total("csat") / count("csat"), 2) if count("csat") else None,
            "satisfied_share": _ratio(count("csat_positive"), count("csat")),
        },
        "nps": {
            "count": nps,
            "promoters": promoters,
            "passives": count("nps_passive"),
            "detractors": detractors,
            "score": round(100 * (promoters - detractors) / nps, 1) if nps else None,
        },
        "bot_resolution_rate": _ratio(count("bot_resolved"), count("resolved")),
    }


async def _counters(
    session: AsyncSession, dimension: str, start: date, end: date
) -> dict[str, dict[str, tuple[int, float]]]:
    rows = (
        await session.execute(
            select(ReportCounter.key, ReportCounter.metric, ReportCounter.count, ReportCounter.total).where(
                ReportCounter.dimension == dimension,
                ReportCounter.day >= start.isoformat(),
                ReportCounter.day <= end.isoformat(),
            )
        )
    ).all()
    grouped: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
    for key, metric, count, total in rows:
        old = grouped[key].get(metric, (0, 0.0))
        grouped[key][metric] = (old[0] + count, old[1] + total)
    return grouped


async def report(session: AsyncSession, dimension: str, start: date, end: date) -> dict[str, Any]:
    """The totals, one row per key of `dimension`, and conversations per UTC hour of the day."""
    totals = await _counters(session, "all", start, end)
    rows = await _counters(session, dimension, start, end) if dimension != "all" else {}
    hours = await _counters(session, "hour", start, end)
    by_hour = [hours.get(f"{h:02d}", {}).get("conversations", (0, 0.0))[0] for h in range(24)]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "by": dimension,
        "totals": summarise(totals.get("", {})),
        "rows": [{"key": key, **summarise(metrics)} for key, metrics in sorted(rows.items())],
        "hours": by_hour,
        "busiest_hours": sorted(range(24), key=lambda h: (-by_hour[h], h))[:3] if any(by_hour) else [],
    }


CSV_COLUMNS = (
    "key",
    "conversations",
    "first_response_count",
    "first_response_avg_seconds",
    "first_response_p50_seconds_at_most",
    "first_response_p90_seconds_at_most",
    "resolved",
    "resolution_avg_seconds",
    "resolution_p50_seconds_at_most",
    "resolution_p90_seconds_at_most",
    "sla_met",
    "sla_breached",
    "sla_compliance",
    "csat_count",
    "csat_average",
    "nps_count",
    "nps_score",
    "bot_resolution_rate",
)


def _csv_cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: keys come from customers.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in [{"key": "(total)", **data["totals"]}, *data["rows"]]:
        fr, rs = row["first_response"], row["resolution"]
        writer.writerow(
            _csv_cell(v)
            for v in (
                row["key"],
                row["conversations"],
                fr["count"],
                fr["avg_seconds"],
                fr["p50_seconds_at_most"],
                fr["p90_seconds_at_most"],
                rs["count"],
                rs["avg_seconds"],
                rs["p50_seconds_at_most"],
                rs["p90_seconds_at_most"],
                row["sla"]["met"],
                row["sla"]["breached"],
                row["sla"]["compliance"],
                row["csat"]["count"],
                row["csat"]["average"],
                row["nps"]["count"],
                row["nps"]["score"],
                row["bot_resolution_rate"],
            )
        )
    return out.getvalue()


def touchpoint_score(row: dict[str, Any]) -> float | None:
    """1 (weak) to 10 (strong): the mean of what is known of resolution rate, SLA compliance,
    satisfaction (CSAT average on 1-5, or NPS on -100..100) and response speed (p50 within 5 min
    is full marks, a day or more none)."""
    parts: list[float] = []
    if row["conversations"]:
        parts.append(min(1.0, row["resolution"]["count"] / row["conversations"]))
    if row["sla"]["compliance"] is not None:
        parts.append(row["sla"]["compliance"])
    if row["csat"]["average"] is not None:
        parts.append((row["csat"]["average"] - 1) / 4)
    elif row["nps"]["score"] is not None:
        parts.append((row["nps"]["score"] + 100) / 200)
    p50 = row["first_response"]["p50_seconds_at_most"]
    if row["first_response"]["count"]:
        parts.append(0.0 if p50 is None or p50 >= 86400 else 1.0 if p50 <= 300 else 1 - (p50 - 300) / (86400 - 300))
    if not parts:
        return None
    return round(1 + 9 * sum(parts) / len(parts), 1)


async def touchpoint_map(session: AsyncSession, start: date, end: date) -> dict[str, Any]:
    data = await report(session, "touchpoint", start, end)
    points = [{**row, "score": touchpoint_score(row)} for row in data["rows"]]
    scored = [p for p in points if p["score"] is not None]
    weakest = sorted(scored, key=lambda p: (p["score"], -p["conversations"], p["key"]))[:3]
    return {
        "from": data["from"],
        "to": data["to"],
        "touchpoints": points,
        "weakest": [p["key"] for p in weakest],
    }
