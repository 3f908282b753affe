"""Console pages: login, redirects, visibility, escaping of customer text, security headers, locale."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.i18n import parse_accept_language
from lines.console.keys import inbox_key
from lines.console.views import local_path
from tests.conftest import PASSWORD, Staff

Client = TestClient[web.Request, web.Application]
XSS_NAME = '<script>alert("name")</script><img src=x onerror=alert(1)>'
XSS_TEXT = '<img src=x onerror="alert(2)"><script>alert(3)</script></textarea><svg onload=alert(4)>'


async def ingest(
    client: Client,
    external_id: str,
    *,
    inbox: str = "demo",
    name: str = "Vera",
    text: str = "hello",
    sender: str = "visitor-1",
    html: str | None = None,
) -> int:
    result = await client.app[inbox_key].ingest(
        InboundMessage(
            channel="webchat",
            inbox=inbox,
            external_id=external_id,
            sender=ContactInfo(external_id=sender, name=name),
            text=text,
            html=html,
        )
    )
    return result.conversation_id


async def login(client: Client, who: str, lang: str | None = None) -> None:
    headers = {"Accept-Language": lang} if lang else {}
    response = await client.post(
        "/login", data={"login": who, "password": PASSWORD}, allow_redirects=False, headers=headers
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/"


async def test_login_page_renders_a_form(client: Client, staff: Staff) -> None:
    response = await client.get("/login")
    assert response.status == 200
    html = await response.text()
    assert '<form method="post" action="/login"' in html
    assert 'name="password"' in html


async def test_pages_redirect_to_login_when_logged_out(client: Client, staff: Staff) -> None:
    for path in ("/", "/?view=all", "/conversations/1"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302, path
        assert response.headers["Location"].startswith("/login?next=")


async def test_login_sets_the_session_cookie_and_opens_the_inbox(client: Client, staff: Staff) -> None:
    response = await client.post("/login", data={"login": "anna", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 303
    assert "lines_session" in response.cookies
    assert response.cookies["lines_session"]["httponly"]
    inbox = await client.get("/")
    assert inbox.status == 200
    html = await inbox.text()
    assert "Anna Ivanova" in html
    # Signing in to the console makes the operator available.
    assert '<option value="online" selected>' in html


async def test_login_returns_to_the_page_asked_for_but_never_off_site(client: Client, staff: Staff) -> None:
    data = {"login": "anna", "password": PASSWORD, "next": "/conversations/7"}
    response = await client.post("/login", data=data, allow_redirects=False)
    assert response.headers["Location"] == "/conversations/7"
    await client.post("/logout", data={"csrf": "x"}, allow_redirects=False)
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        data["next"] = evil
        response = await client.post("/login", data=data, allow_redirects=False)
        assert response.headers["Location"] == "/", evil
    assert local_path("/?view=all") == "/?view=all"


async def test_a_wrong_password_shows_the_form_again_with_an_error(client: Client, staff: Staff) -> None:
    response = await client.post("/login", data={"login": "anna", "password": "nope"}, allow_redirects=False)
    assert response.status == 401
    html = await response.text()
    assert "Wrong login or password." in html
    assert 'value="anna"' in html
    assert "lines_session" not in response.cookies


async def test_too_many_attempts_are_shown_as_such(client: Client, staff: Staff) -> None:
    statuses = []
    for _ in range(7):
        response = await client.post("/login", data={"login": "anna", "password": "nope"})
        statuses.append(response.status)
    assert statuses[-1] == 429
    assert "Too many attempts" in await response.text()


async def test_a_login_post_from_another_site_is_refused(client: Client, staff: Staff) -> None:
    response = await client.post(
        "/login", data={"login": "anna", "password": PASSWORD}, headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403


async def test_logout_needs_the_csrf_token_and_ends_the_session(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    refused = await client.post("/logout", data={"csrf": "wrong"}, allow_redirects=False)
    assert refused.status == 403
    html = await (await client.get("/")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    response = await client.post("/logout", data={"csrf": csrf.group(1)}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    again = await client.get("/", allow_redirects=False)
    assert again.status == 302


async def test_the_inbox_lists_only_visible_conversations(client: Client, staff: Staff) -> None:
    await ingest(client, "m-1", inbox="demo", name="Support Sam", sender="v-support")
    await ingest(client, "m-2", inbox="shop", name="Sales Sue", sender="v-sales")
    await login(client, "anna")
    html = await (await client.get("/?view=all")).text()
    assert "Support Sam" in html
    assert "Sales Sue" not in html
    team = await (await client.get("/?view=team")).text()
    assert "Support Sam" in team
    await client.post("/logout", data={"csrf": ""}, allow_redirects=False)


async def test_inbox_rows_carry_channel_preview_unread_and_counts(client: Client, staff: Staff) -> None:
    conversation_id = await ingest(client, "m-1", name="Vera", text="Where is my order?\nIt is late.")
    await login(client, "anna")
    html = await (await client.get("/?view=unassigned")).text()
    row = re.search(rf'<li class="conv-row unread"[^>]*data-id="{conversation_id}".*?</li>', html, re.S)
    assert row, html
    assert "channel-webchat" in row.group(0)
    assert "Where is my order? It is late." in row.group(0)
    assert re.search(r'data-count="unassigned">1<', html)
    assert re.search(r'data-count="mine">0<', html)
    counts = await (await client.get("/inbox/counts?status=open")).json()
    assert counts == {"mine": 0, "unassigned": 1, "team": 1, "all": 1}
    # Opening the conversation marks it read.
    assert (await client.get(f"/conversations/{conversation_id}")).status == 200
    html = await (await client.get("/?view=unassigned")).text()
    assert re.search(rf'<li class="conv-row"[^>]*data-id="{conversation_id}"', html)


async def test_another_teams_conversation_page_is_404(client: Client, staff: Staff) -> None:
    sales = await ingest(client, "m-1", inbox="shop", name="Sales Sue", sender="v-sales")
    await login(client, "anna")
    response = await client.get(f"/conversations/{sales}")
    assert response.status == 404
    assert "Sales Sue" not in await response.text()
    assert (await client.get("/conversations/999999")).status == 404
    assert (await client.get("/conversations/abc")).status == 404


async def test_the_conversation_page_shows_history_card_and_previous_conversations(
    client: Client, staff: Staff
) -> None:
    first = await ingest(client, "m-1", name="Vera", text="first question")
    await login(client, "lead")
    html = await (await client.get(f"/conversations/{first}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    headers = {"X-CSRF-Token": csrf.group(1)}
    note = await client.post(
        f"/api/v1/conversations/{first}/messages", json={"text": "internal remark", "private": True}, headers=headers
    )
    assert note.status in (200, 201), await note.text()
    resolved = await client.post(f"/api/v1/conversations/{first}/status", json={"status": "resolved"}, headers=headers)
    assert resolved.status == 200, await resolved.text()
    second = await ingest(client, "m-2", name="Vera", text="second question")
    assert second != first
    html = await (await client.get(f"/conversations/{second}")).text()
    assert "second question" in html
    assert f'href="/conversations/{first}"' in html
    assert 'data-testid="customer-card"' in html
    old = await (await client.get(f"/conversations/{first}")).text()
    assert re.search(r'class="msg msg-note".*?Private note.*?internal remark', old, re.S)


async def test_customer_html_is_escaped_everywhere(client: Client, staff: Staff) -> None:
    conversation_id = await ingest(client, "m-1", name=XSS_NAME, text=XSS_TEXT)
    await login(client, "anna")
    for path in ("/?view=all", f"/conversations/{conversation_id}"):
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<svg onload" not in html, path
        assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in html, path
    assert "&lt;/textarea&gt;&lt;svg onload=alert(4)&gt;" in html
    # The JSON block for console.js cannot close its <script> element either.
    block = re.search(r'<script type="application/json" id="lines-data">(.*?)</script>', html, re.S)
    assert block and "<" not in block.group(1)


async def test_email_html_is_only_shown_in_a_sandboxed_iframe(client: Client, staff: Staff) -> None:
    conversation_id = await ingest(
        client, "m-1", text="plain", html='<p>Hi <b>there</b></p><script>alert(1)</script><a href="javascript:x">x</a>'
    )
    await login(client, "anna")
    html = await (await client.get(f"/conversations/{conversation_id}")).text()
    frame = re.search(r'<iframe class="msg-html" sandbox=""[^>]*srcdoc="([^"]*)"', html)
    assert frame, html
    assert "<" not in frame.group(1)
    assert "&lt;b&gt;there&lt;/b&gt;" in frame.group(1)
    assert "alert(1)" not in frame.group(1)


async def test_console_pages_send_a_strict_csp(client: Client, staff: Staff) -> None:
    conversation_id = await ingest(client, "m-1")
    await login(client, "anna")
    for path in ("/login", "/", f"/conversations/{conversation_id}"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        html = await response.text()
        # No inline scripts: every <script> either has a src or is a JSON data block.
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert " on" not in "".join(re.findall(r"<[a-z]+\s[^>]*\bon[a-z]+=", html))


async def test_static_files_are_served_with_cache_headers(client: Client, staff: Staff) -> None:
    html = await (await client.get("/login")).text()
    src = re.search(r'<script src="(/static/console\.js\?v=[0-9a-f]+)"', html)
    assert src
    versioned = await client.get(src.group(1))
    assert versioned.status == 200
    assert "immutable" in versioned.headers["Cache-Control"]
    assert versioned.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    plain = await client.get("/static/console.css")
    assert plain.status == 200 and "max-age" in plain.headers["Cache-Control"]
    assert (await client.get("/static/..%2Fviews.py")).status == 404
    assert (await client.get("/static/nope.js")).status == 404


async def test_language_follows_the_cookie(client: Client, staff: Staff) -> None:
    client.session.cookie_jar.update_cookies({"lines_lang": "ru"})
    html = await (await client.get("/login")).text()
    assert '<html lang="ru">' in html
    assert "Вход в консоль оператора" in html
    client.session.cookie_jar.update_cookies({"lines_lang": "en"})
    html = await (await client.get("/login", headers={"Accept-Language": "ru"})).text()
    assert '<html lang="en">' in html
    assert "Sign in to the console" in html


async def test_language_follows_accept_language(client: Client, staff: Staff) -> None:
    html = await (await client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})).text()
    assert '<html lang="ru">' in html
    html = await (await client.get("/login", headers={"Accept-Language": "de-DE,en;q=0.5,ru;q=0.3"})).text()
    assert '<html lang="en">' in html
    html = await (await client.get("/login", headers={"Accept-Language": "de"})).text()
    assert '<html lang="en">' in html  # settings.console.default_locale
    await login(client, "anna", lang="ru")
    html = await (await client.get("/", headers={"Accept-Language": "ru"})).text()
    assert "Входящие" in html and "Мои команды" in html
    assert "Выйти" in html


async def test_the_language_switch_sets_a_cookie_and_returns(client: Client, staff: Staff) -> None:
    response = await client.post("/lang", data={"lang": "ru", "next": "/login"}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    assert response.cookies["lines_lang"].value == "ru"
    bad = await client.post("/lang", data={"lang": "ru", "next": "https://evil.example"}, allow_redirects=False)
    assert bad.headers["Location"] == "/"


def test_accept_language_parsing() -> None:
    assert parse_accept_language("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7") == ["ru", "ru", "en", "en"]
    assert parse_accept_language("en;q=0.2, ru;q=0.8") == ["ru", "en"]
    assert parse_accept_language("ru;q=0, en") == ["en"]
    assert parse_accept_language("") == []
    assert parse_accept_language("ru;q=abc,en") == ["en"]


async def test_control_characters_in_next_fall_back_to_the_inbox(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    for evil in ("/%0D%0ASet-Cookie:%20x=1", "/%00", "/%0B", "/a%0Ab", "/%7F", "/%C2%85"):
        response = await client.get(f"/login?next={evil}", allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/"), evil
        assert "x" not in response.cookies
    await client.post("/logout", data={"csrf": "x"}, allow_redirects=False)
    data = {"login": "anna", "password": PASSWORD, "next": "/\r\nX-Evil: 1"}
    response = await client.post("/login", data=data, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/")
    assert "X-Evil" not in response.headers
