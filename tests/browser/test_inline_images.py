"""An HTML email's `cid:` image really shows in the console's sandboxed iframe (headless Chromium)."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import files_key, inbox_key, sessions_key
from lines.console.models import Conversation
from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser


def png(width: int, height: int) -> bytes:
    """A valid red RGB PNG of `width` x `height`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def test_a_cid_image_is_shown_inside_the_email(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None
    saved = await server.app[files_key].save("logo.png", "image/png", png(40, 20), limit=1 << 20)
    await server.app[inbox_key].ingest(
        InboundMessage(
            channel="email",
            inbox="support",
            external_id="logo@example.org",
            sender=ContactInfo(external_id="vera@example.org", email="vera@example.org", name="Vera"),
            text="See the logo",
            html='<p>See the logo:</p><img src="cid:logo@shop" alt="logo">',
            attachments=(saved,),
            extra={"inline": {"logo@shop": "logo.png"}, "inline_paths": {"logo@shop": saved.storage_path}},
        )
    )
    async with server.app[sessions_key]() as session:
        number = await session.scalar(select(Conversation.id))
    page = await sign_in(await new_context(browser), server, "admin", f"/conversations/{number}")
    frame = page.frame_locator("iframe.msg-html")
    image = frame.locator('img[alt="logo"]')
    await expect(image).to_have_attribute("src", re.compile(r"^/attachments/\d+/[^/?]+\?inline=1$"))
    # Loaded through the auth-checked route (the session cookie goes with it) and decoded: 40 px wide.
    width = 0
    for _ in range(100):
        width = await image.evaluate("img => img.complete ? img.naturalWidth : 0")
        if width:
            break
        await page.wait_for_timeout(100)
    assert width == 40
