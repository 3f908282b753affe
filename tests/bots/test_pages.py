"""The lead's knowledge-base pages and the prompter panel on the conversation page."""

from __future__ import annotations

import re
from pathlib import Path

from lines.bots.kb import load_dir
from lines.bots.store import import_articles
from lines.console.keys import sessions_key
from tests.api.helpers import Client, auth_headers, eventually
from tests.conftest import Staff
from tests.test_views import ingest, login

KB = Path(__file__).resolve().parents[2] / "config" / "kb"


async def csrf_of(client: Client, path: str) -> str:
    html = await (await client.get(path)).text()
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def test_a_lead_writes_previews_and_publishes_an_article_in_the_editor(client: Client, staff: Staff) -> None:
    await login(client, "lead")
    csrf = await csrf_of(client, "/kb/new")
    form = {
        "csrf": csrf,
        "slug": "gift-wrap-en",
        "title": "Gift wrapping",
        "lang": "en",
        "tags": "gifts, service",
        "questions": "Can you gift wrap it?\nDo you wrap presents?",
        "body": "Yes, gift wrapping is <b>free</b>.",
        "action": "publish",
    }
    response = await client.post("/kb/save", data=form, allow_redirects=False)
    assert response.status == 302 or response.status == 303
    page = await (await client.get(response.headers["Location"])).text()
    assert "Yes, gift wrapping is &lt;b&gt;free&lt;/b&gt;." in page  # the preview is inert text
    assert "Published" in page
    headers = await auth_headers(client, "lead")
    found = await (await client.post("/api/v1/bot/suggest", json={"text": "do u wrap gifts"}, headers=headers)).json()
    assert found["suggestions"][0]["article_id"] == "gift-wrap-en"
    listing = await (await client.get("/kb")).text()
    assert 'data-slug="gift-wrap-en"' in listing


async def test_a_bad_article_is_shown_back_with_the_problem(client: Client, staff: Staff) -> None:
    await login(client, "lead")
    csrf = await csrf_of(client, "/kb/new")
    form = {"csrf": csrf, "slug": "x", "title": "X", "lang": "de", "body": "y", "action": "save"}
    response = await client.post("/kb/save", data=form)
    assert response.status == 422 and "lang must be one of" in await response.text()


async def test_the_editor_refuses_a_form_without_the_csrf_token(client: Client, staff: Staff) -> None:
    await login(client, "lead")
    form = {"slug": "x", "title": "X", "lang": "en", "body": "y", "action": "save"}
    assert (await client.post("/kb/save", data=form)).status == 403


async def test_operators_do_not_get_the_kb_pages(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    assert (await client.get("/kb")).status == 403
    assert 'data-testid="nav-kb"' not in await (await client.get("/")).text()


async def test_the_gap_report_page_lists_questions_without_a_good_answer(client: Client, staff: Staff) -> None:
    await import_articles(client.app[sessions_key], load_dir(KB))
    await ingest(client, "g1", text="у вас есть франшиза?")
    await login(client, "lead")

    async def listed() -> bool:
        return "у вас есть франшиза?" in await (await client.get("/kb/gaps")).text()

    await eventually(listed)


async def test_the_conversation_page_has_the_prompter(client: Client, staff: Staff) -> None:
    conversation_id = await ingest(client, "p1", text="где мой заказ")
    await login(client, "anna")
    html = await (await client.get(f"/conversations/{conversation_id}")).text()
    assert 'data-testid="prompter"' in html and "prompter.js" in html
