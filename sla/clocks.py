"""The three SLA clocks of a conversation as plain data, and the deadlines derived from them.

Pure functions over the JSON kept in `conversation_sla.clocks`:

* first response: starts when the conversation is created, stops at the first public reply by a
  human (or by the bot when the policy counts bot replies);
* next response: starts at the first customer message after a reply and stops at the next reply;
  further customer messages while it runs do not move it (a chatty customer does not buy time);
* resolution: runs while the conversation is open; `pending` and `snoozed` pause it (the working
  time spent so far is kept in `elapsed`), resolving stops it, reopening resumes it.

A resolved conversation has no running deadline: a target still unmet when it was resolved is
`stopped` (nothing counts down or fires) until the conversation is reopened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lines.sla.calendar import Calendar
from lines.sla.policies import TARGETS, Policy

Clocks = dict[str, Any]
PAUSED_STATUSES = ("pending", "snoozed")


def _iso(at: datetime) -> str:
    return at.isoformat()


def _at(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def new_clocks(created_at: datetime, status: str) -> Clocks:
    """Clocks of a conversation that starts now."""
    return {
        "first_response": {"start": _iso(created_at), "met_at": None, "warned": False, "breached": False},
        "next_response": None,
        "resolution": {
            "elapsed": 0.0,
            "since": _iso(created_at) if status not in (*PAUSED_STATUSES, "resolved") else None,
            "met_at": None,
            "warned": False,
            "breached": False,
        },
    }


def customer_message(clocks: Clocks, at: datetime) -> None:
    """A message from the customer: starts the next-response clock unless one is running."""
    if clocks["first_response"]["met_at"] is None:
        return
    running = clocks.get("next_response")
    if running is None or running["met_at"] is not None:
        clocks["next_response"] = {"start": _iso(at), "met_at": None, "warned": False, "breached": False}


def reply(clocks: Clocks, at: datetime) -> None:
    """A public reply that counts: meets the first response, else the running next response."""
    first = clocks["first_response"]
    if first["met_at"] is None:
        first["met_at"] = _iso(at)
        return
    running = clocks.get("next_response")
    if running is not None and running["met_at"] is None:
        running["met_at"] = _iso(at)


def status_change(clocks: Clocks, status: str, at: datetime, calendar: Calendar) -> None:
    """Pause, resume, stop or restart the resolution clock for the conversation's new status."""
    resolution = clocks["resolution"]
    since = _at(resolution["since"])
    if status in (*PAUSED_STATUSES, "resolved"):
        if since is not None:
            resolution["elapsed"] += max(0.0, calendar.working_seconds_between(since, at))
            resolution["since"] = None
        if status == "resolved" and resolution["met_at"] is None:
            resolution["met_at"] = _iso(at)
            running = clocks.get("next_response")
            if running is not None and running["met_at"] is None:
                clocks["next_response"] = None  # nothing left to answer
    elif status == "open":
        resolution["met_at"] = None
        if since is None:
            resolution["since"] = _iso(at)


@dataclass
class Derived:
    """What the clocks mean under a policy at one moment."""

    deadlines: dict[str, dict[str, Any]] = field(default_factory=dict)
    due_at: datetime | None = None
    state: str = "ok"
    next_fire_at: datetime | None = None
    # (target, kind, due, cycle) that should have fired by now and have not.
    to_fire: list[tuple[str, str, datetime, str]] = field(default_factory=list)


def derive(clocks: Clocks, policy: Policy, calendar: Calendar, status: str, now: datetime) -> Derived:
    """Deadlines, state, the nearest timer and what is due to fire, for `clocks` under `policy`."""
    out = Derived()
    breached = warning = False
    fires: list[datetime] = []
    for target in TARGETS:
        clock = clocks.get(target)
        seconds = policy.seconds(target)
        if clock is None or seconds is None:
            continue
        met_at = clock.get("met_at")
        if met_at is not None:
            out.deadlines[target] = {"state": "met", "due_at": None, "warn_at": None, "met_at": met_at}
            continue
        if status == "resolved":
            # Resolving stops every clock: a target left unmet has no deadline to count down to.
            stopped = "breached" if clock["breached"] else "stopped"
            out.deadlines[target] = {"state": stopped, "due_at": None, "warn_at": None, "met_at": None}
            continue
        if target == "resolution":
            since = _at(clock["since"])
            if since is None:
                remaining = max(0.0, seconds - clock["elapsed"])
                out.deadlines[target] = {"state": "paused", "due_at": None, "warn_at": None, "remaining": remaining}
                continue
            due = calendar.add_working_time(since, max(0.0, seconds - clock["elapsed"]))
            warn = calendar.add_working_time(since, max(0.0, seconds * policy.warn_at - clock["elapsed"]))
            cycle = ""
        else:
            start = _at(clock["start"])
            assert start is not None
            due = calendar.add_working_time(start, seconds)
            warn = calendar.add_working_time(start, seconds * policy.warn_at)
            cycle = clock["start"] if target == "next_response" else ""
        is_breached = clock["breached"] or now >= due
        is_warning = clock["warned"] or now >= warn
        state = "breached" if is_breached else "warning" if is_warning else "ok"
        out.deadlines[target] = {"state": state, "due_at": _iso(due), "warn_at": _iso(warn), "met_at": None}
        breached |= is_breached
        warning |= is_warning
        out.due_at = due if out.due_at is None else min(out.due_at, due)
        for kind, at, done in (("warning", warn, clock["warned"]), ("breached", due, clock["breached"])):
            if done:
                continue
            if at <= now:
                out.to_fire.append((target, kind, at, cycle))
            else:
                fires.append(at)
    out.next_fire_at = min(fires) if fires else None
    if status == "resolved":
        out.state = "met"
    elif breached:
        out.state = "breached"
    elif warning:
        out.state = "warning"
    elif out.due_at is None and status in PAUSED_STATUSES:
        out.state = "paused"
    elif out.due_at is None and out.deadlines:
        out.state = "met"
    return out


def mark_fired(clocks: Clocks, target: str, kind: str) -> None:
    clock = clocks[target]
    clock["warned"] = True
    if kind == "breached":
        clock["breached"] = True
