"""Typed app state of the SLA part."""

from __future__ import annotations

from aiohttp import web

from lines.sla.recompute import Recompute
from lines.sla.service import SlaService
from lines.sla.staff_mail import StaffMailSender
from lines.sla.timers import TimerLoop

sla_key = web.AppKey("sla", SlaService)
sla_timers_key = web.AppKey("sla_timers", TimerLoop)
sla_recompute_key = web.AppKey("sla_recompute", Recompute)
staff_mail_key = web.AppKey("sla_staff_mail", StaffMailSender)
"""Present only when `[notifications.email]` is configured."""
