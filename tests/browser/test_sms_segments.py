"""The reply box of an SMS conversation counts segments exactly as channels/sms/segments.py does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.db import create_engine
from lines.console.keys import inbox_key
from lines.console.schema import metadata
from tests.browser.conftest import LiveServer, free_port, new_context, sign_in
from tests.conftest import Database, make_settings, seed_staff

CASES = json.loads((Path(__file__).parents[1] / "channels" / "sms" / "segment_cases.json").read_text("utf-8"))


@pytest.fixture
async def sms_server(tmp_path: Path, password_hash: str) -> AsyncIterator[LiveServer]:
    database = Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}")
    engine = create_engine(database.url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    port = free_port()
    gateway = {
        "name": "main",
        "provider": "kannel",
        "number": "1000",
        "team": "support",
        "sendsms_url": f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms",
        "inbound_secret": "s",
        "max_segments": 3,
    }
    settings = make_settings(
        tmp_path, database, server={"public_url": f"http://127.0.0.1:{port}"}, channels={"sms": [gateway]}
    )
    live = LiveServer(settings, port)
    app = await live.start()
    live.staff = await seed_staff(app, password_hash)
    yield live
    await live.stop()


async def sms_conversation(server: LiveServer) -> int:
    assert server.app is not None
    result = await server.app[inbox_key].ingest(
        InboundMessage(
            channel="sms",
            inbox="main",
            external_id="k-1",
            sender=ContactInfo(external_id="+79161234567", phone="+79161234567"),
            text="hello",
        )
    )
    return result.conversation_id


async def test_the_console_counter_matches_the_python_segment_cases(sms_server: LiveServer, browser: Browser) -> None:
    conversation_id = await sms_conversation(sms_server)
    context = await new_context(browser)
    page = await sign_in(context, sms_server, "anna", f"/conversations/{conversation_id}")
    got = await page.evaluate(
        "cases => cases.map(c => { const i = window.LinesSmsSegments.count(c.text);"
        " return [c.name, i.encoding, i.units, i.segments]; })",
        CASES,
    )
    assert got == [[c["name"], c["encoding"], c["units"], c["segments"]] for c in CASES]
    await context.close()


async def test_the_counter_updates_while_the_operator_types_and_warns_over_the_limit(
    sms_server: LiveServer, browser: Browser
) -> None:
    conversation_id = await sms_conversation(sms_server)
    context = await new_context(browser)
    page = await sign_in(context, sms_server, "anna", f"/conversations/{conversation_id}")
    counter = page.get_by_test_id("sms-segments")
    box = page.get_by_test_id("reply-input")
    await box.fill("Здравствуйте")
    assert await counter.text_content() == "SMS: 1 of 3 parts · UCS-2 · 58 characters left in this part"
    await box.fill("a" * 161)
    assert await counter.get_attribute("data-segments") == "2"
    assert "GSM-7" in (await counter.text_content() or "")
    await box.fill("a" * 153 * 4)
    assert await counter.text_content() == "Too long for SMS: 4 parts, at most 3"
    await context.close()


async def test_other_channels_have_no_segment_counter(server: LiveServer, browser: Browser) -> None:
    assert server.app is not None
    result = await server.app[inbox_key].ingest(
        InboundMessage(
            channel="webchat", inbox="demo", external_id="w-1", sender=ContactInfo(external_id="v-1"), text="hi"
        )
    )
    context = await new_context(browser)
    page = await sign_in(context, server, "anna", f"/conversations/{result.conversation_id}")
    assert await page.get_by_test_id("sms-segments").count() == 0
    await context.close()
