"""Long polling that owns its offset: it moves only after the store, and survives restarts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from lines.channels.telegram import adapter
from lines.console.keys import channel_state_key
from tests.api.helpers import eventually
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi, Failure
from tests.channels.telegram.conftest import BOT, Client, ClientFactory, channel, messages


def stored_texts(client: Client, wanted: list[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return [m.text for m in await messages(client)] == wanted

    return check


async def saved_offset(client: Client) -> Any:
    return await client.app[channel_state_key].load(f"telegram:{BOT}", "offset")


async def test_polling_stores_updates_and_saves_the_next_offset(make_client: ClientFactory, botapi: BotApi) -> None:
    first, second = updates.text("one"), updates.text("two")
    botapi.push(first)
    botapi.push(second)
    client = await make_client("polling")
    await eventually(stored_texts(client, ["one", "two"]))

    async def offset_saved() -> bool:
        return await saved_offset(client) == second["update_id"] + 1

    await eventually(offset_saved)


async def test_polling_removes_a_webhook_without_dropping_pending_updates(
    make_client: ClientFactory, botapi: BotApi
) -> None:
    botapi.webhook = {"url": "https://old.example/hook"}
    botapi.push(updates.text("sent while we switched"))
    client = await make_client("polling")
    await eventually(stored_texts(client, ["sent while we switched"]))
    [call] = botapi.calls_of("deleteWebhook")
    assert str(call.get("drop_pending_updates")).lower() in ("false", "none")


async def test_a_restart_resumes_from_the_saved_offset(
    make_client: ClientFactory, botapi: BotApi, aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> None:
    first = updates.text("before the restart")
    botapi.push(first)
    client = await make_client("polling")
    await eventually(stored_texts(client, ["before the restart"]))
    await eventually(lambda: _true_when(saved_offset(client), first["update_id"] + 1))
    await channel(client).stop()
    # Telegram still has the update if the confirming getUpdates never came: it must not be stored twice.
    botapi.updates.insert(0, first)
    botapi.push(updates.text("after the restart"))
    channel(client).begin()
    await eventually(stored_texts(client, ["before the restart", "after the restart"]))
    offsets = [int(c.get("offset") or 0) for c in botapi.calls_of("getUpdates")]
    assert offsets[-1] >= first["update_id"] + 1


async def test_a_store_failure_leaves_the_offset_and_the_update_comes_again(
    make_client: ClientFactory, botapi: BotApi, monkeypatch: Any
) -> None:
    update = updates.text("crash between receive and store")
    client = await make_client("polling", poll_timeout=0)
    bot = channel(client)
    await bot.stop()
    real_ingest = bot._context.ingest
    calls = 0

    async def failing_once(message: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return await real_ingest(message)

    monkeypatch.setattr(bot._context, "ingest", failing_once)
    botapi.push(update)
    bot.begin()
    await eventually(stored_texts(client, ["crash between receive and store"]), timeout=10)
    assert calls == 2
    assert await saved_offset(client) == update["update_id"] + 1


async def test_polling_waits_out_a_429_and_goes_on(make_client: ClientFactory, botapi: BotApi) -> None:
    botapi.fail("getUpdates", Failure(429, "Too Many Requests: retry after 1", retry_after=1))
    botapi.push(updates.text("after the pause"))
    client = await make_client("polling")
    await eventually(stored_texts(client, ["after the pause"]), timeout=10)


async def _true_when(value: Awaitable[Any], wanted: Any) -> bool:
    return await value == wanted


async def test_an_update_that_cannot_be_read_does_not_stop_the_ones_behind_it(
    make_client: ClientFactory, botapi: BotApi, monkeypatch: Any
) -> None:
    poison, good = updates.text("poison"), updates.text("after the poison")
    real_parse = adapter.parse_update

    def parse(update: Any) -> Any:
        if update.update_id == poison["update_id"]:
            raise ValueError("a shape we do not understand")
        return real_parse(update)

    monkeypatch.setattr(adapter, "parse_update", parse)
    botapi.push(poison)
    botapi.push(good)
    client = await make_client("polling")
    await eventually(stored_texts(client, ["after the poison"]))
    await eventually(lambda: _true_when(saved_offset(client), good["update_id"] + 1))
