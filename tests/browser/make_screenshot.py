"""Stage a realistic conversation and save the console's conversation page as docs/screenshot.png (1280x800).

Run `python -m tests.browser.make_screenshot [PATH]`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select, update

from lines.channels.base import ContactInfo, InboundMessage
from lines.channels.webchat.visitor import identity_hash
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import ContactIdentity, Conversation, Message, Status, utcnow
from lines.console.passwords import hash_password
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, new_context, sign_in, start_server
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = {"id": "cust-2211", "name": "Maria Sokolova", "email": "maria.sokolova@example.com"}


async def _say(page: Page, text: str) -> None:
    await page.get_by_test_id("input").fill(text)
    await page.get_by_test_id("send").click()


async def _earlier_conversation(
    server: LiveServer, contact_id: int, channel: str, inbox: str, who: str, text: str, subject: str, days: int
) -> None:
    """A past, resolved conversation of the same customer on another channel."""
    assert server.app is not None
    async with server.app[sessions_key]() as session, session.begin():
        session.add(ContactIdentity(contact_id=contact_id, channel=channel, inbox=inbox, external_id=who, display=who))
    result = await server.app[inbox_key].ingest(
        InboundMessage(
            channel=channel,
            inbox=inbox,
            external_id=f"{channel}-{days}",
            sender=ContactInfo(who),
            text=text,
            subject=subject,
        )
    )
    then = utcnow() - timedelta(days=days)
    async with server.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == result.conversation_id)
            .values(status=Status.RESOLVED, created_at=then, last_message_at=then, resolved_at=then)
        )
        await session.execute(
            update(Message).where(Message.conversation_id == result.conversation_id).values(created_at=then)
        )


async def stage_and_capture(browser: Browser, server: LiveServer, path: Path, inbox: Path | None = None) -> None:
    """Stage the conversation and save `path`; with `inbox`, a shot of the inbox too."""
    assert server.app is not None
    visitor_context = await new_context(browser)
    identity = {**CUSTOMER, "hash": identity_hash("site-secret", CUSTOMER["id"])}
    await visitor_context.add_init_script(f"window.LinesChat = {{identity: {json.dumps(identity)}}};")
    visitor = await visitor_context.new_page()
    await visitor.goto(f"{server.url}/demo")
    await visitor.get_by_test_id("launcher").click()
    await visitor.wait_for_function("() => window.LinesChat.state.connected")
    await _say(
        visitor,
        "Hi! I ordered a blue kettle on Monday (order #10423) and tracking still says “label created”. "
        "Will it arrive before Friday?",
    )
    async with server.app[sessions_key]() as session:
        conversation = None
        for _ in range(50):
            conversation = await session.scalar(select(Conversation).order_by(Conversation.id.desc()).limit(1))
            if conversation is not None:
                break
            await asyncio.sleep(0.1)
    assert conversation is not None
    await _earlier_conversation(
        server,
        conversation.contact_id,
        "email",
        "support",
        CUSTOMER["email"],
        "Hello, the lid of my teapot arrived cracked. Can I get a replacement?",
        "Cracked teapot lid",
        12,
    )
    await _earlier_conversation(
        server,
        conversation.contact_id,
        "telegram",
        "shopbot",
        "@msokolova",
        "Do you deliver to Kazan?",
        "",
        40,
    )

    anna = await sign_in(await new_context(browser), server, "anna", f"/conversations/{conversation.id}")
    await anna.get_by_test_id("take").click()
    await expect(anna.get_by_test_id("assignee")).to_have_text("Anna Ivanova")
    box = anna.get_by_test_id("reply-input")
    await box.fill("Hello Maria! Let me check with the warehouse — one moment, please.")
    await box.press("Enter")
    await anna.get_by_test_id("mode-note").click()
    await box.fill("Warehouse: ships today with the 15:00 pickup. Offer free express if she asks about Friday.")
    await box.press("Enter")
    await anna.get_by_test_id("mode-reply").click()
    await box.fill("Good news: your kettle leaves our warehouse today and should arrive on Thursday.")
    await box.press("Enter")
    await expect(visitor.locator('[data-author="operator"]').filter(has_text="Thursday")).to_have_count(1)
    await _say(visitor, "Thank you! Could you also deliver it to my office address instead?")
    await expect(anna.get_by_test_id("message").filter(has_text="office address")).to_have_count(1)

    lead = await sign_in(await new_context(browser), server, "lead", f"/conversations/{conversation.id}")
    await expect(anna.get_by_test_id("collision")).to_contain_text("Lena Lead")
    await visitor.get_by_test_id("input").press_sequentially("Lenina 12, office", delay=30)
    await expect(anna.get_by_test_id("typing")).to_contain_text("is typing")
    for delivery in await anna.get_by_test_id("delivery").all():
        await expect(delivery).not_to_have_text("Queued")
    await box.fill("Sure! Please send the full address with the office number")
    await anna.mouse.move(0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    await anna.screenshot(path=str(path))
    await lead.close()
    if inbox is not None:
        await anna.goto(f"{server.url}/?view=all&status=any")
        await anna.screenshot(path=str(inbox))


async def main(path: Path, inbox: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = await start_server(Path(directory), hash_password(PASSWORD))
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                await stage_and_capture(browser, server, path, inbox)
                await browser.close()
        finally:
            await server.stop()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    asyncio.run(main(target, Path(sys.argv[2]) if len(sys.argv) > 2 else None))
    print(f"saved {target}")  # noqa: T201
