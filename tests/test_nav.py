"""Navigation: every part's links come from the registry, by role, with the current page marked."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.console.app import create_app
from lines.console.keys import nav_key
from lines.console.nav import ADMINS, NavItem
from lines.console.settings import Settings
from tests.conftest import Staff
from tests.test_views import login

Client = TestClient[web.Request, web.Application]
PROBE = NavItem("probe", "/probe", "Reports", ADMINS, "nav-probe", section="admin")


async def probe_page(request: web.Request) -> web.Response:
    from lines.console.views import Page, signed_in

    return Page(request, await signed_in(request)).render("not_found.html", active_nav="probe")


@pytest.fixture
def app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app[nav_key].append(PROBE)
    app.router.add_get("/probe", probe_page)
    return app


def links(html: str) -> list[str]:
    return re.findall(r'data-testid="(nav-[a-z-]+)"', html)


def test_each_part_registers_its_link_once(app: web.Application) -> None:
    keys = [item.key for item in app[nav_key]]
    assert {"inbox", "contacts", "followups", "canned", "reports", "routing", "sla", "kb"} <= set(keys)
    assert len(keys) == len(set(keys))


async def test_an_operator_sees_the_inbox_and_the_customer_pages_only(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    html = await (await client.get("/")).text()
    assert links(html) == ["nav-inbox", "nav-contacts", "nav-followups", "nav-canned"]
    assert "Administration" not in html


async def test_a_lead_sees_the_parts_pages_in_order_and_no_admin_only_items(client: Client, staff: Staff) -> None:
    await login(client, "lead")
    html = await (await client.get("/")).text()
    main = html[: html.index('data-testid="nav-admin"')]
    assert links(main) == [
        "nav-inbox",
        "nav-contacts",
        "nav-followups",
        "nav-canned",
        "nav-reports",
        "nav-routing",
        "nav-sla",
        "nav-kb",
    ]
    assert 'data-testid="nav-probe"' not in html


async def test_admin_items_sit_in_the_administration_menu_in_the_console_language(client: Client, staff: Staff) -> None:
    await login(client, "admin")
    html = await (await client.get("/", headers={"Accept-Language": "ru"})).text()
    menu = html[html.index('data-testid="nav-admin"') :]
    assert "Администрирование" in menu
    assert 'data-testid="nav-probe"' in menu
    assert 'href="/probe"' in menu
    assert "Отчёты" in menu  # the label is a msgid, translated when drawn


async def test_the_current_page_is_marked_active(client: Client, staff: Staff) -> None:
    await login(client, "admin")
    html = await (await client.get("/probe")).text()
    assert re.search(r'<a href="/probe" class="active" data-testid="nav-probe" aria-current="page"', html)
    assert re.search(r'<summary class="active">', html)
    assert not re.search(r'<a href="/" class="active"', html)
    inbox = await (await client.get("/")).text()
    assert re.search(r'<a href="/" class="active" data-testid="nav-inbox"', inbox)
