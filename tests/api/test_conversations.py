"""Conversations API: views, detail, visibility on read and write, unread marks, paging."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lines.console.api.schemas import ConversationDetail, ConversationList
from lines.console.keys import sessions_key
from lines.console.models import Message
from tests.api.helpers import Client, auth_headers, error_of, open_conversation, say
from tests.conftest import Staff


async def ids_in(client: Client, who: str, query: str = "") -> list[int]:
    response = await client.get(f"/api/v1/conversations{query}", headers=await auth_headers(client, who))
    assert response.status == 200, await response.text()
    body = await response.json()
    ConversationList.model_validate(body)
    return [c["id"] for c in body["conversations"]]


@pytest.fixture
async def inbox(client: Client, staff: Staff) -> dict[str, int]:
    """Five conversations seen from anna (support): newest last."""
    return {
        "support_anna": await open_conversation(client, staff.support, staff.anna),
        "support_free": await open_conversation(client, staff.support),
        "sales_free": await open_conversation(client, staff.sales),
        "no_team": await open_conversation(client, None),
        "sales_anna": await open_conversation(client, staff.sales, staff.anna),
    }


async def test_view_mine_lists_what_is_assigned_to_me(client: Client, inbox: dict[str, int]) -> None:
    assert set(await ids_in(client, "anna", "?view=mine")) == {inbox["support_anna"], inbox["sales_anna"]}


async def test_view_unassigned_lists_only_visible_unassigned(client: Client, inbox: dict[str, int]) -> None:
    assert set(await ids_in(client, "anna", "?view=unassigned")) == {inbox["support_free"], inbox["no_team"]}


async def test_view_team_lists_my_teams_conversations(client: Client, inbox: dict[str, int]) -> None:
    assert set(await ids_in(client, "anna", "?view=team")) == {inbox["support_anna"], inbox["support_free"]}


async def test_view_all_lists_everything_i_may_see(client: Client, inbox: dict[str, int]) -> None:
    assert set(await ids_in(client, "anna", "?view=all")) == set(inbox.values()) - {inbox["sales_free"]}


async def test_an_admin_sees_every_conversation(client: Client, inbox: dict[str, int]) -> None:
    assert set(await ids_in(client, "admin", "?view=all")) == set(inbox.values())


async def test_newest_activity_comes_first(client: Client, inbox: dict[str, int]) -> None:
    assert (await ids_in(client, "admin"))[0] == inbox["sales_anna"]


async def test_the_status_filter_defaults_to_open(client: Client, staff: Staff, inbox: dict[str, int]) -> None:
    headers = await auth_headers(client, "anna")
    url = f"/api/v1/conversations/{inbox['support_free']}/status"
    await client.post(url, json={"status": "resolved"}, headers=headers)
    assert inbox["support_free"] not in await ids_in(client, "anna")
    assert await ids_in(client, "anna", "?status=resolved") == [inbox["support_free"]]
    assert inbox["support_free"] in await ids_in(client, "anna", "?status=any")


async def test_pages_follow_the_cursor_without_gaps(client: Client, staff: Staff) -> None:
    made = [await open_conversation(client, staff.support) for _ in range(5)]
    headers = await auth_headers(client, "anna")
    seen: list[int] = []
    url = "/api/v1/conversations?limit=2"
    while True:
        body = await (await client.get(url, headers=headers)).json()
        seen += [c["id"] for c in body["conversations"]]
        if body["next_cursor"] is None:
            break
        url = f"/api/v1/conversations?limit=2&before={body['next_cursor']}"
    assert seen == list(reversed(made))


@pytest.mark.parametrize(
    "query",
    [
        "?view=everything",
        "?view=all'%20OR%201=1--",
        "?status=closed",
        "?limit=1000",
        "?limit=0",
        "?limit=ten",
        "?before=1;DROP%20TABLE%20conversations",
        "?sort=id",
        "?view=all&view=mine",
    ],
)
async def test_query_parameters_outside_the_allow_list_are_422(client: Client, staff: Staff, query: str) -> None:
    response = await client.get(f"/api/v1/conversations{query}", headers=await auth_headers(client, "anna"))
    assert await error_of(response) == (422, "validation_error")


async def test_a_conversation_is_unread_until_read(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "anna")

    async def unread() -> bool:
        body = await (await client.get("/api/v1/conversations", headers=headers)).json()
        return next(c["unread"] for c in body["conversations"] if c["id"] == conversation)

    assert await unread()
    assert (await client.post(f"/api/v1/conversations/{conversation}/read", headers=headers)).status == 200
    assert not await unread()


async def test_a_new_customer_message_makes_it_unread_again(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, sender="vera")
    headers = await auth_headers(client, "anna")
    await client.post(f"/api/v1/conversations/{conversation}/read", headers=headers)
    await say(client, "vera", "one more thing")
    detail = await (await client.get(f"/api/v1/conversations/{conversation}", headers=headers)).json()
    assert detail["unread"]


async def test_reading_is_per_operator(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    await client.post(f"/api/v1/conversations/{conversation}/read", headers=await auth_headers(client, "anna"))
    lead = await (
        await client.get(f"/api/v1/conversations/{conversation}", headers=await auth_headers(client, "lead"))
    ).json()
    assert lead["unread"]


async def test_the_detail_has_messages_contact_and_identities(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, text="where is my order?", sender="vera")
    response = await client.get(f"/api/v1/conversations/{conversation}", headers=await auth_headers(client, "anna"))
    body = await response.json()
    ConversationDetail.model_validate(body)
    assert [m["text"] for m in body["messages"]] == ["where is my order?"]
    assert body["contact"]["identities"] == [
        {"channel": "loopback", "inbox": "test", "external_id": "vera", "display": "Vera", "verified": False}
    ]
    assert body["team"]["name"] == "support"
    assert {"lead_type", "priority", "sla", "assignee"} <= set(body)


async def test_previous_conversations_show_only_those_i_may_see(client: Client, staff: Staff) -> None:
    sales_one = await open_conversation(client, staff.sales, sender="vera")
    await client.post(
        f"/api/v1/conversations/{sales_one}/status",
        json={"status": "resolved"},
        headers=await auth_headers(client, "admin"),
    )
    support_one = await open_conversation(client, None, sender="vera")
    await client.post(
        f"/api/v1/conversations/{support_one}/status",
        json={"status": "resolved"},
        headers=await auth_headers(client, "admin"),
    )
    current = await open_conversation(client, staff.support, sender="vera")
    assert len({sales_one, support_one, current}) == 3
    anna = await (
        await client.get(f"/api/v1/conversations/{current}", headers=await auth_headers(client, "anna"))
    ).json()
    admin = await (
        await client.get(f"/api/v1/conversations/{current}", headers=await auth_headers(client, "admin"))
    ).json()
    assert [c["id"] for c in anna["previous_conversations"]] == [support_one]
    assert [c["id"] for c in admin["previous_conversations"]] == [support_one, sales_one]


async def test_customer_html_comes_back_as_inert_json_data(client: Client, staff: Staff) -> None:
    name, text = "<script>alert(1)</script>", '<img src=x onerror="alert(2)">'
    conversation = await open_conversation(client, staff.support, text=text, name=name)
    response = await client.get(f"/api/v1/conversations/{conversation}", headers=await auth_headers(client, "anna"))
    assert response.content_type == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = await response.json()
    assert body["contact"]["name"] == name and body["messages"][0]["text"] == text


async def test_an_unknown_conversation_is_404(client: Client, staff: Staff) -> None:
    response = await client.get("/api/v1/conversations/999999", headers=await auth_headers(client, "anna"))
    assert await error_of(response) == (404, "not_found")


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "99999999999999999999", "1.5"])
async def test_a_malformed_conversation_id_is_422(client: Client, staff: Staff, raw_id: str) -> None:
    response = await client.get(f"/api/v1/conversations/{raw_id}", headers=await auth_headers(client, "anna"))
    assert await error_of(response) == (422, "validation_error")


# Cross-team IDOR: boris (sales) must not learn that a support conversation exists, nor touch it.


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("POST", "/messages", {"text": "hi"}),
        ("POST", "/messages", {"text": "note", "private": True}),
        ("POST", "/assign", {"operator_id": 0}),
        ("POST", "/assign", {"team": "sales"}),
        ("POST", "/status", {"status": "resolved"}),
        ("POST", "/priority", {"priority": "urgent"}),
        ("POST", "/read", None),
    ],
)
async def test_another_teams_conversation_is_404_on_read_and_write(
    client: Client, staff: Staff, method: str, suffix: str, body: dict[str, object] | None
) -> None:
    conversation = await open_conversation(client, staff.support)
    if body and body.get("operator_id") == 0:
        body = {"operator_id": staff.boris}
    headers = await auth_headers(client, "boris")
    response = await client.request(method, f"/api/v1/conversations/{conversation}{suffix}", json=body, headers=headers)
    assert await error_of(response) == (404, "not_found")
    detail = await client.get(f"/api/v1/conversations/{conversation}", headers=await auth_headers(client, "admin"))
    after = await detail.json()
    assert (after["status"], after["assignee"], after["team"]["name"]) == ("open", None, "support")
    assert after["priority"] == "normal"
    assert len(after["messages"]) == 1


async def test_moving_a_conversation_to_another_team_ends_my_access(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "anna")
    moved = await client.post(f"/api/v1/conversations/{conversation}/assign", json={"team": "sales"}, headers=headers)
    assert moved.status == 200
    assert (await client.get(f"/api/v1/conversations/{conversation}", headers=headers)).status == 404
    assert conversation not in await ids_in(client, "anna")


async def test_a_reply_is_stored_and_returned(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "On its way!"},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 201
    message = await response.json()
    assert (message["direction"], message["author_id"], message["text"]) == ("out", staff.anna, "On its way!")


async def test_a_blank_reply_is_422(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "   "},
        headers=await auth_headers(client, "anna"),
    )
    assert await error_of(response) == (422, "empty_text")


async def test_snoozing_needs_a_time(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/status",
        json={"status": "snoozed"},
        headers=await auth_headers(client, "anna"),
    )
    assert await error_of(response) == (422, "until_required")


async def test_snoozing_until_a_time_sets_it(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/status",
        json={"status": "snoozed", "until": "2099-01-01T09:00:00+03:00"},
        headers=await auth_headers(client, "anna"),
    )
    body = await response.json()
    assert (body["status"], body["snoozed_until"]) == ("snoozed", "2099-01-01T06:00:00+00:00")


async def test_a_snooze_time_without_an_offset_is_422(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/status",
        json={"status": "snoozed", "until": "2099-01-01T09:00:00"},
        headers=await auth_headers(client, "anna"),
    )
    assert await error_of(response) == (422, "validation_error")


async def test_a_reply_reopens_a_resolved_conversation(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "anna")
    await client.post(f"/api/v1/conversations/{conversation}/status", json={"status": "resolved"}, headers=headers)
    await client.post(f"/api/v1/conversations/{conversation}/messages", json={"text": "one more"}, headers=headers)
    detail = await (await client.get(f"/api/v1/conversations/{conversation}", headers=headers)).json()
    assert detail["status"] == "open"


async def test_a_rejected_write_stores_nothing(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "x", "extra": 1},
        headers=await auth_headers(client, "anna"),
    )
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
