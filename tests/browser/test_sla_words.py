"""sla.js words a deadline exactly as console/countdown.py does, on the same cases."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.test_countdown import CASES

pytestmark = pytest.mark.browser


async def test_the_live_countdown_matches_the_python_cases(browser: Browser, server: LiveServer) -> None:
    page = await sign_in(await new_context(browser), server, "anna")
    got = await page.evaluate("cases => cases.map(c => window.LinesSla.words(c.ms, c.lang))", CASES)
    assert got == [c["text"] for c in CASES]
