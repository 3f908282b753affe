"""Edits keep their history; blocked senders are kept but open nothing."""

from __future__ import annotations

from typing import Any

from lines.console.keys import bus_key
from tests.api.helpers import auth_headers
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi
from tests.channels.telegram.conftest import Client, conversations, identities, messages, post_update
from tests.conftest import PASSWORD


async def revisions(client: Client, conversation_id: int, message_id: int, who: str = "anna") -> Any:
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages/{message_id}/revisions",
        headers=await auth_headers(client, who),
    )
    return response.status, await response.json()


async def test_an_edit_updates_the_message_and_keeps_the_original(client: Client) -> None:
    await post_update(client, updates.text("Заказ 123", message_id=10))
    assert await post_update(client, updates.edited(10, "Заказ 124", edit_date=1_763_900_100)) == 200
    [message] = await messages(client)
    assert (message.text, message.edited_at is not None) == ("Заказ 124", True)
    status, body = await revisions(client, message.conversation_id, message.id)
    assert status == 200
    assert body["text"] == "Заказ 124"
    assert [r["text"] for r in body["revisions"]] == ["Заказ 123"]


async def test_each_edit_is_a_version_and_a_resent_edit_counts_once(client: Client) -> None:
    await post_update(client, updates.text("v1", message_id=11))
    second = updates.edited(11, "v2", edit_date=1_763_900_100)
    await post_update(client, second)
    await post_update(client, second)
    await post_update(client, updates.edited(11, "v3", edit_date=1_763_900_200))
    [message] = await messages(client)
    _, body = await revisions(client, message.conversation_id, message.id)
    assert (body["text"], [r["text"] for r in body["revisions"]]) == ("v3", ["v1", "v2"])


async def test_an_edited_caption_keeps_the_photo_and_a_removed_caption_keeps_the_text(
    client: Client, botapi: BotApi
) -> None:
    botapi.add_file("p1", b"jpeg")
    photo = updates.photo("p1", caption="старая подпись")
    photo["message"]["message_id"] = 12
    await post_update(client, photo)
    await post_update(client, updates.edited(12, "новая подпись", edit_date=1_763_900_100, caption=True))
    removed = updates.edited(12, "", edit_date=1_763_900_200, caption=True)
    await post_update(client, removed)
    [message] = await messages(client)
    assert (message.text, len(message.attachments)) == ("новая подпись", 1)
    _, body = await revisions(client, message.conversation_id, message.id)
    assert [r["text"] for r in body["revisions"]] == ["старая подпись", "новая подпись"]


async def test_an_edit_is_announced_as_message_updated(client: Client) -> None:
    seen: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        seen.append(event)

    await post_update(client, updates.text("before", message_id=13))
    client.app[bus_key].subscribe("events", collect)
    await post_update(client, updates.edited(13, "after", edit_date=1_763_900_100))
    kinds = [(e.get("type"), (e.get("data") or {}).get("text")) for e in seen]
    assert ("message.updated", "after") in kinds
    assert not any(kind == "message.created" for kind, _ in kinds)


async def test_an_edit_of_a_message_we_never_had_is_stored_as_a_message(client: Client) -> None:
    await post_update(client, updates.edited(99, "edited before we knew it", edit_date=1_763_900_100))
    assert [m.text for m in await messages(client)] == ["edited before we knew it"]


async def test_revisions_of_a_conversation_one_cannot_see_are_404(client: Client) -> None:
    await post_update(client, updates.text("hi", message_id=14))
    [message] = await messages(client)
    status, body = await revisions(client, message.conversation_id, message.id, who="boris")
    assert status == 404, body


async def block(client: Client, conversation_id: int, blocked: bool = True) -> Any:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/block-sender",
        json={"blocked": blocked},
        headers=await auth_headers(client, "anna"),
    )
    return response.status, await response.json()


async def test_an_operator_blocks_the_sender_of_a_conversation(client: Client) -> None:
    await post_update(client, updates.text("spam"))
    [conversation] = await conversations(client)
    status, body = await block(client, conversation.id)
    assert status == 200, body
    assert (body["state"], body["external_id"]) == ("blocked", str(updates.USER["id"]))
    [identity] = await identities(client)
    assert identity.state == "blocked"


async def test_a_blocked_users_messages_are_kept_but_open_no_conversation(client: Client) -> None:
    await post_update(client, updates.text("spam"))
    [conversation] = await conversations(client)
    await block(client, conversation.id)
    resolved = await client.post(
        f"/api/v1/conversations/{conversation.id}/status",
        json={"status": "resolved"},
        headers=await auth_headers(client, "anna"),
    )
    assert resolved.status == 200, await resolved.text()
    await post_update(client, updates.text("more spam"))
    [still] = await conversations(client)
    assert still.status == "resolved"
    kept = await messages(client)
    assert [m.text for m in kept] == ["spam", "more spam"]
    assert kept[-1].extra["blocked_sender"] is True


async def test_unblocking_lets_the_sender_open_conversations_again(client: Client) -> None:
    await post_update(client, updates.text("first"))
    [conversation] = await conversations(client)
    await block(client, conversation.id)
    status, body = await block(client, conversation.id, blocked=False)
    assert (status, body["state"]) == (200, "active")
    await post_update(client, updates.text("after unblock"))
    assert [m.extra.get("blocked_sender") for m in await messages(client)] == [None, None]


async def test_the_conversation_page_marks_an_edited_message(client: Client) -> None:
    await post_update(client, updates.text("first words", message_id=15))
    await post_update(client, updates.edited(15, "better words", edit_date=1_763_900_100))
    [message] = await messages(client)
    response = await client.post(
        "/login",
        data={"login": "anna", "password": PASSWORD},
        allow_redirects=False,
        headers={"Accept-Language": "ru"},
    )
    assert response.status == 303
    page = await (
        await client.get(f"/conversations/{message.conversation_id}", headers={"Accept-Language": "ru"})
    ).text()
    assert "better words" in page and "first words" not in page  # earlier versions load on demand
    marker = f'data-revisions="/api/v1/conversations/{message.conversation_id}/messages/{message.id}/revisions"'
    assert marker in page
    assert "изменено" in page


async def test_an_edited_caption_does_not_fetch_the_photo_again(client: Client, botapi: BotApi) -> None:
    botapi.add_file("p2", b"jpeg")
    photo = updates.photo("p2", caption="подпись")
    photo["message"]["message_id"] = 16
    await post_update(client, photo)
    edit = updates.edited(16, "другая подпись", edit_date=1_763_900_100, caption=True)
    edit["edited_message"]["photo"] = photo["message"]["photo"]
    await post_update(client, edit)
    [message] = await messages(client)
    assert (message.text, len(message.attachments)) == ("другая подпись", 1)
    assert len(botapi.calls_of("getFile")) == 1
