"""The rules API: versions with who and when, refusals that point at the field, rollback."""

from __future__ import annotations

from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import Staff
from tests.routing.helpers import RULES, publish


async def test_publishing_rules_makes_a_new_version(client: Client, staff: Staff) -> None:
    response = await publish(client)
    assert response.status == 200
    body = await response.json()
    assert body["version"] == 1 and body["author"] == "Lena Lead" and body["rules"] == RULES
    live = await client.get("/api/v1/routing/rules", headers=await auth_headers(client, "lead"))
    assert (await live.json())["version"] == 1


async def test_invalid_rules_are_refused_naming_the_field_and_nothing_changes(client: Client, staff: Staff) -> None:
    await publish(client)
    bad = {**RULES, "routes": [{"lead_type": "support", "team": "support", "strategy": "random"}]}
    response = await publish(client, bad)
    status, code = await error_of(response)
    assert (status, code) == (422, "invalid_rules")
    assert "/routes/0/strategy" in (await response.json())["error"]["message"]
    live = await client.get("/api/v1/routing/rules", headers=await auth_headers(client, "lead"))
    assert (await live.json())["version"] == 1


async def test_a_route_to_a_team_that_does_not_exist_is_refused(client: Client, staff: Staff) -> None:
    bad = {**RULES, "routes": [{"lead_type": "support", "team": "nowhere"}]}
    response = await publish(client, bad)
    assert (await response.json())["error"]["message"].startswith("/routes/0/team")


async def test_operators_may_not_change_rules(client: Client, staff: Staff) -> None:
    assert await error_of(await publish(client, who="anna")) == (403, "forbidden")


async def test_history_lists_versions_newest_first_and_rollback_republishes_an_old_one(
    client: Client, staff: Staff
) -> None:
    await publish(client)
    changed = {**RULES, "sticky": {"enabled": False, "within_days": 1}}
    await publish(client, changed)
    headers = await auth_headers(client, "lead")
    history = await (await client.get("/api/v1/routing/rules/history", headers=headers)).json()
    assert [v["version"] for v in history["versions"]] == [2, 1]
    rolled = await client.post("/api/v1/routing/rules/history/1/rollback", headers=headers)
    body = await rolled.json()
    assert body["version"] == 3 and body["restored_from"] == 1 and body["rules"] == RULES


async def test_preview_tells_lead_type_team_and_operator(client: Client, staff: Staff) -> None:
    await publish(client)
    from tests.routing.helpers import presence

    await presence(client, "boris", "online")
    response = await client.post(
        "/api/v1/routing/preview",
        json={"channel": "webchat", "text": "Хочу купить диван"},
        headers=await auth_headers(client, "lead"),
    )
    body = await response.json()
    assert body["lead_type"] == "sales" and body["team"] == "sales" and body["operator"]["login"] == "boris"
