"""Administration pages: admins see everyone with the forms, leads their own teams read-only, operators 403."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.api.helpers import auth_headers
from tests.conftest import Staff
from tests.test_views import login

Client = TestClient[web.Request, web.Application]
BROWSER = {"Accept": "text/html"}


def logins(html: str) -> set[str]:
    return set(re.findall(r'data-testid="operator-row" data-login="([a-z0-9._-]+)"', html))


async def only_support_for_the_lead(client: Client, staff: Staff) -> None:
    response = await client.patch(
        f"/api/v1/operators/{staff.lead}", json={"teams": ["support"]}, headers=await auth_headers(client, "admin")
    )
    assert response.status == 200


async def test_an_admin_sees_every_operator_with_role_teams_presence_and_load(client: Client, staff: Staff) -> None:
    await login(client, "admin")
    response = await client.get("/admin/operators")
    assert response.status == 200
    html = await response.text()
    assert logins(html) == {"admin", "lead", "anna", "boris"}
    assert 'data-testid="operator-form"' in html and 'data-testid="new-operator"' in html
    assert "Team lead" in html and "Support" in html and "Offline" in html


async def test_a_lead_sees_only_the_operators_of_their_teams_read_only(client: Client, staff: Staff) -> None:
    await only_support_for_the_lead(client, staff)
    await login(client, "lead")
    html = await (await client.get("/admin/operators")).text()
    assert logins(html) == {"lead", "anna"}
    assert 'data-testid="read-only"' in html
    assert 'data-testid="operator-form"' not in html and 'data-action="set-active"' not in html


async def test_a_lead_sees_only_their_teams(client: Client, staff: Staff) -> None:
    await only_support_for_the_lead(client, staff)
    await login(client, "lead")
    html = await (await client.get("/admin/teams")).text()
    assert re.findall(r'data-testid="team-row" data-name="([a-z0-9_-]+)"', html) == ["support"]
    assert 'data-testid="team-form"' not in html


async def test_an_admin_sees_every_team_with_its_leads_and_members(client: Client, staff: Staff) -> None:
    await login(client, "admin")
    html = await (await client.get("/admin/teams")).text()
    assert re.findall(r'data-testid="team-row" data-name="([a-z0-9_-]+)"', html) == ["sales", "support"]
    support = html[html.index('data-name="support"') :]
    assert re.search(r'data-testid="team-leads">Lena Lead<', support)
    assert 'data-testid="team-form"' in html


async def test_an_operator_gets_403_on_the_admin_pages(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    for path in ("/admin/operators", "/admin/teams"):
        response = await client.get(path, headers=BROWSER)
        assert response.status == 403, path
        assert 'data-status="403"' in await response.text()


async def test_the_admin_menu_lists_the_pages_for_leads_and_admins(client: Client, staff: Staff) -> None:
    await login(client, "lead")
    html = await (await client.get("/", headers={"Accept-Language": "ru"})).text()
    menu = html[html.index('data-testid="nav-admin"') :]
    assert 'href="/admin/operators"' in menu and 'href="/admin/teams"' in menu
    assert "Администрирование" in menu and "Операторы" in menu
