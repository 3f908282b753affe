"""A web-chat message is searchable the moment the widget's message is acknowledged."""

from __future__ import annotations

import uuid

from tests.api.helpers import auth_headers
from tests.channels.webchat.conftest import Client, hello, say
from tests.conftest import Staff


async def test_a_widget_message_is_found_at_once(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    assert (await say(ws, "Где моя доставка?", str(uuid.uuid4())))["type"] == "ack"
    await ws.close()
    response = await client.get("/api/v1/search", params={"q": "доставки"}, headers=await auth_headers(client, "anna"))
    assert response.status == 200
    assert [m["snippet"] for m in (await response.json())["messages"]] == ["Где моя <mark>доставка</mark>?"]
