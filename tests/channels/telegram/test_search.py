"""An edited Telegram message is found by its new text, no longer by the replaced one."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import auth_headers
from tests.channels.telegram import updates
from tests.channels.telegram.conftest import Client, post_update


async def found(client: Client, q: str) -> list[str]:
    response = await client.get("/api/v1/search", params={"q": q}, headers=await auth_headers(client, "admin"))
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return [m["snippet"] for m in body["messages"]]


async def test_an_edited_message_is_found_by_its_new_text(client: Client) -> None:
    await post_update(client, updates.text("Отмените подписку", message_id=10))
    assert await post_update(client, updates.edited(10, "Продлите подписку", edit_date=1_763_900_100)) == 200
    assert await found(client, "продлить") == ["<mark>Продлите</mark> подписку"]
    assert await found(client, "отменить") == []
