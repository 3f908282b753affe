"""The lead's routing page."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.api.helpers import Client, cookie_session
from tests.conftest import Staff
from tests.routing.helpers import publish


async def test_a_lead_opens_the_routing_page_with_the_live_version(client: Client, staff: Staff) -> None:
    await publish(client)
    cookie, _ = await cookie_session(client, staff.lead)
    response = await client.get("/routing", headers=cookie)
    page = await response.text()
    assert response.status == 200
    assert 'data-testid="live-version">1<' in page and "routing.js" in page
    assert "Content-Security-Policy" in response.headers


async def test_leads_see_the_routing_link_operators_do_not(client: Client, staff: Staff) -> None:
    lead, _ = await cookie_session(client, staff.lead)
    anna, _ = await cookie_session(client, staff.anna)
    assert 'data-testid="nav-routing"' in await (await client.get("/", headers=lead)).text()
    assert 'data-testid="nav-routing"' not in await (await client.get("/", headers=anna)).text()


async def test_an_operator_gets_not_found(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    assert (await client.get("/routing", headers=cookie)).status == 404


async def test_the_page_script_and_styles_are_served(client: Client, staff: Staff) -> None:
    for name in ("routing.js", "routing.css"):
        assert (await client.get(f"/static/{name}")).status == 200


async def matrix_of(client: Client, staff: Staff, who: int) -> list[dict[str, Any]]:
    cookie, _ = await cookie_session(client, who)
    page = await (await client.get("/routing", headers=cookie)).text()
    found = re.search(r'<script type="application/json" id="lines-data">(.*?)</script>', page, re.S)
    assert found is not None and 'data-testid="skills-matrix"' in page
    return list(json.loads(found.group(1))["operators"])


async def test_the_skills_matrix_lists_the_operators_the_caller_may_edit(client: Client, staff: Staff) -> None:
    lead_sees = await matrix_of(client, staff, staff.lead)
    assert [(o["name"], o["teams"]) for o in lead_sees] == [("Anna Ivanova", ["support"]), ("Boris Petrov", ["sales"])]
    assert lead_sees[0]["capacity"] == {"chat": 5, "email": 10} and lead_sees[0]["skills"] == {}
    admin_sees = await matrix_of(client, staff, staff.admin)
    assert [o["name"] for o in admin_sees] == ["Admin", "Anna Ivanova", "Boris Petrov", "Lena Lead"]
