"""The bot and routing see business hours through the SLA calendar of the catch-all policy."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.console.keys import hours_key
from lines.console.settings import Settings
from lines.routing.keys import router_key
from lines.sla.hours import SlaHours
from lines.sla.policies import PolicySet
from lines.sla.service import SlaService
from tests.conftest import Database, make_settings

OFFICE: dict[str, Any] = {
    "calendars": [
        {
            "id": "office",
            "timezone": "Europe/Moscow",
            "week": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        },
        {"id": "24x7", "timezone": "UTC", "always_open": True},
    ],
    "policies": [
        {"id": "vip", "applies_to": {"lead_types": ["vip"]}, "calendar": "24x7", "first_response_seconds": 60},
        {"id": "default", "applies_to": {}, "calendar": "office", "first_response_seconds": 3600},
    ],
}
SATURDAY_NOON = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


def office_hours() -> SlaHours:
    service = SlaService(None, None)  # type: ignore[arg-type]  # only its policies are read
    service.policies = PolicySet.parse(OFFICE)
    return SlaHours(service)


def test_the_catch_all_policys_calendar_decides_business_hours() -> None:
    hours = office_hours()
    assert (hours.is_open(SATURDAY_NOON), hours.is_open(MONDAY_OPENING)) == (False, True)


def test_operators_are_back_when_the_office_opens() -> None:
    assert office_hours().next_open(SATURDAY_NOON) == MONDAY_OPENING


def test_a_team_works_the_office_hours() -> None:
    assert office_hours().team_is_open("support", SATURDAY_NOON) is False


def test_without_policies_it_is_always_open() -> None:
    hours = SlaHours(SlaService(None, None))  # type: ignore[arg-type]
    assert (hours.is_open(SATURDAY_NOON), hours.next_open(SATURDAY_NOON)) == (True, SATURDAY_NOON)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    policies = tmp_path / "sla.json"
    policies.write_text(json.dumps(OFFICE), encoding="utf-8")
    return make_settings(tmp_path, database, sla={"policies_file": str(policies)})


async def test_the_running_app_gives_the_bot_and_routing_the_sla_hours(
    app: web.Application,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> None:
    await aiohttp_client(app)
    hours = app[hours_key]
    assert isinstance(hours, SlaHours)
    assert hours.is_open(SATURDAY_NOON) is False
    assert app[router_key].is_open("support", SATURDAY_NOON) is False
