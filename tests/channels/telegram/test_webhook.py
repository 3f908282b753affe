"""Inbound over the webhook: authenticity first, then every message kind stored once."""

from __future__ import annotations

import asyncio
from typing import Any

from lines.channels.telegram.parse import to_e164
from lines.console.keys import files_key
from tests.api.helpers import eventually
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi
from tests.channels.telegram.conftest import (
    SECRET,
    WEBHOOK,
    Client,
    ClientFactory,
    channel,
    contacts,
    conversations,
    identities,
    messages,
    post_update,
)


async def test_start_registers_the_webhook_with_the_secret_and_the_update_kinds(client: Client, botapi: BotApi) -> None:
    async def registered() -> bool:
        return bool(botapi.webhook)

    await eventually(registered)
    assert botapi.webhook["url"] == f"https://lines.example{WEBHOOK}"
    assert botapi.webhook["secret_token"] == SECRET
    assert botapi.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert botapi.webhook.get("drop_pending_updates") in (None, False, "False", "false")


async def test_a_text_message_opens_a_conversation_for_the_telegram_user(client: Client) -> None:
    assert await post_update(client, updates.text("Здравствуйте! <b>где</b> мой заказ?")) == 200
    [conversation] = await conversations(client)
    [message] = await messages(client)
    [identity] = await identities(client)
    assert (conversation.channel, conversation.inbox, conversation.contact.name) == (
        "telegram",
        "support_bot",
        "Вера Иванова",
    )
    assert message.text == "Здравствуйте! <b>где</b> мой заказ?"
    assert message.external_id == f"{updates.USER['id']}:{message.extra['telegram']['message_id']}"
    assert (identity.external_id, identity.display) == (str(updates.USER["id"]), "@vera_i")


async def test_the_conversation_goes_to_the_bots_team(client: Client) -> None:
    await post_update(client, updates.text("hi"))
    [conversation] = await conversations(client)
    assert conversation.team_id is not None


async def test_a_wrong_secret_is_403_and_stores_nothing(client: Client) -> None:
    assert await post_update(client, updates.text("forged"), secret="guess") == 403
    assert await messages(client) == []


async def test_a_missing_secret_is_403_and_stores_nothing(client: Client) -> None:
    response = await client.post(WEBHOOK, json=updates.text("forged"))
    assert response.status == 403
    assert await messages(client) == []


async def test_a_body_that_is_not_json_is_403(client: Client) -> None:
    response = await client.post(
        WEBHOOK, data="update_id=1", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "text/plain"}
    )
    assert response.status == 403
    assert await messages(client) == []


async def test_json_that_is_not_an_update_is_400(client: Client) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"message": {}}'):
        response = await client.post(
            WEBHOOK,
            data=body,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
        )
        assert response.status == 400, body
    assert await messages(client) == []


async def test_an_unknown_bot_is_404(client: Client) -> None:
    response = await client.post(
        "/channels/telegram/other/webhook",
        json=updates.text("hi"),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status == 404


async def test_the_same_update_delivered_twice_is_stored_once(client: Client) -> None:
    update = updates.text("once")
    assert await post_update(client, update) == 200
    assert await post_update(client, update) == 200
    assert [m.text for m in await messages(client)] == ["once"]


async def test_a_store_failure_answers_500_and_the_resent_update_is_stored(client: Client, monkeypatch: Any) -> None:
    bot = channel(client)
    real_ingest = bot._context.ingest
    calls = 0

    async def failing_once(message: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return await real_ingest(message)

    monkeypatch.setattr(bot._context, "ingest", failing_once)
    update = updates.text("do not lose me")
    assert await post_update(client, update) == 500
    assert await messages(client) == []
    assert await post_update(client, update) == 200  # Telegram sends it again
    assert [m.text for m in await messages(client)] == ["do not lose me"]


async def test_a_photo_is_downloaded_and_stored_with_its_caption(client: Client, botapi: BotApi) -> None:
    botapi.add_file("photo-big", b"\xff\xd8jpeg-bytes", "photos/file_1.jpg")
    assert await post_update(client, updates.photo("photo-big", caption="вот чек")) == 200
    [message] = await messages(client)
    assert message.text == "вот чек"
    [attachment] = message.attachments
    assert (attachment.content_type, attachment.stored) == ("image/jpeg", True)
    assert attachment.storage_path is not None
    assert client.app[files_key].path(attachment.storage_path).read_bytes() == b"\xff\xd8jpeg-bytes"
    assert botapi.calls_of("getFile") == [{"file_id": "photo-big"}]  # the largest size, not the thumbnail


async def test_a_document_keeps_its_name_and_type(client: Client, botapi: BotApi) -> None:
    botapi.add_file("doc-1", b"%PDF-1.4 invoice")
    assert await post_update(client, updates.document("doc-1", "invoice.pdf", "application/pdf", "счёт")) == 200
    [message] = await messages(client)
    [attachment] = message.attachments
    assert (message.text, attachment.filename, attachment.content_type, attachment.size) == (
        "счёт",
        "invoice.pdf",
        "application/pdf",
        16,
    )


async def test_voice_audio_and_video_arrive_as_files(client: Client, botapi: BotApi) -> None:
    for file_id in ("voice-1", "audio-1", "video-1"):
        botapi.add_file(file_id, file_id.encode())
    for update in (updates.voice("voice-1"), updates.audio("audio-1"), updates.video("video-1")):
        assert await post_update(client, update) == 200
    found = [(m.attachments[0].content_type, m.attachments[0].size) for m in await messages(client)]
    assert found == [("audio/ogg", 7), ("audio/mpeg", 7), ("video/mp4", 7)]
    assert (await messages(client))[1].attachments[0].filename == "group.mp3"


async def test_a_file_telegram_will_not_hand_out_keeps_the_message_and_names_the_file(
    client: Client, botapi: BotApi
) -> None:
    # getFile refuses (e.g. over the Bot API's 20 MB); the message is not lost for it.
    assert await post_update(client, updates.document("missing", "big.zip", "application/zip", "архив")) == 200
    [message] = await messages(client)
    [attachment] = message.attachments
    assert (message.text, attachment.filename, attachment.stored) == ("архив", "big.zip", False)


async def test_a_sticker_arrives_as_its_emoji(client: Client) -> None:
    await post_update(client, updates.sticker("🔥"))
    [message] = await messages(client)
    assert (message.text, message.extra["sticker"]["set"]) == ("🔥", "HotCherry")


async def test_a_location_arrives_as_coordinates(client: Client) -> None:
    await post_update(client, updates.location(55.751244, 37.618423))
    [message] = await messages(client)
    assert message.text == "55.751244, 37.618423"
    assert message.extra["location"] == {"latitude": 55.751244, "longitude": 37.618423}


async def test_a_shared_own_contact_gives_the_contact_its_phone_in_e164(client: Client) -> None:
    await post_update(client, updates.contact("79161234567"))
    [contact] = await contacts(client)
    [message] = await messages(client)
    assert contact.phone == "+79161234567"
    assert message.extra["contact"]["phone"] == "+79161234567"


async def test_a_shared_contact_of_someone_else_is_only_text(client: Client) -> None:
    await post_update(client, updates.contact("+7 916 765-43-21", user_id=999, first_name="Пётр"))
    [contact] = await contacts(client)
    [message] = await messages(client)
    assert contact.phone is None
    assert message.text == "Пётр +79167654321"


def test_phone_numbers_become_e164_or_nothing() -> None:
    assert to_e164("79161234567") == "+79161234567"
    assert to_e164("+44 20 7946 0958") == "+442079460958"
    assert to_e164("12") is None


async def test_a_reply_names_the_message_it_answers(client: Client) -> None:
    await post_update(client, updates.reply("yes, that one", to_message_id=42))
    [message] = await messages(client)
    assert message.extra["reply_to"] == f"{updates.USER['id']}:42"


async def test_start_opens_no_conversation(client: Client) -> None:
    assert await post_update(client, updates.start("promo_spring")) == 200
    assert await conversations(client) == []
    assert await messages(client) == []


async def test_start_with_a_deep_link_payload_is_the_touchpoint_source_of_the_next_conversation(
    client: Client,
) -> None:
    await post_update(client, updates.start("promo_spring"))
    await post_update(client, updates.text("Хочу скидку"))
    [conversation] = await conversations(client)
    assert conversation.source == {"channel": "telegram", "start": "promo_spring"}


async def test_a_burst_of_album_photos_from_a_new_user_makes_one_conversation(client: Client, botapi: BotApi) -> None:
    album = []
    for n in range(5):
        botapi.add_file(f"album-{n}", b"jpeg %d" % n)
        update = updates.photo(f"album-{n}")
        update["message"]["media_group_id"] = "13579"
        album.append(update)
    statuses = await asyncio.gather(*(post_update(client, u) for u in album))
    assert statuses == [200] * 5
    assert len(await conversations(client)) == 1
    assert len(await messages(client)) == 5


async def test_a_button_press_is_answered_and_stored_as_a_press(client: Client, botapi: BotApi) -> None:
    assert await post_update(client, updates.callback("77:yes", carrier_message_id=5, label="Да", query_id="q1")) == 200
    [message] = await messages(client)
    assert message.text == "Да"
    assert message.extra["button"] == {"id": "yes", "message_id": 77}
    assert botapi.answered == ["q1"]


async def test_a_chat_over_the_inbound_limit_is_not_stored(make_client: ClientFactory) -> None:
    client = await make_client(inbound_per_minute=2)
    for n in range(4):
        assert await post_update(client, updates.text(f"spam {n}")) == 200
    assert [m.text for m in await messages(client)] == ["spam 0", "spam 1"]
