"""`cid:` images of HTML messages point at their stored attachments when shown; still sanitised."""

from __future__ import annotations

import html
import re
from typing import Any

from lines.channels.base import ContactInfo, InboundAttachment, InboundMessage
from lines.console.inline_images import content_id, sanitize_html
from lines.console.keys import files_key, inbox_key
from tests.api.helpers import Client, auth_headers, cookie_session
from tests.conftest import Staff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HTML = (
    '<p>Our new logo: <img src="cid:logo@shop" alt="logo" onerror="alert(1)">'
    '<img src="CID:%3Cbanner%40shop%3E"><img src="cid:missing@shop"><img src="https://track.example/p.gif">'
    '<a href="cid:logo@shop">link</a><script>alert(2)</script></p>'
)


async def save(client: Client, name: str, content_type: str, data: bytes) -> InboundAttachment:
    return await client.app[files_key].save(name, content_type, data, limit=1 << 20)


async def ingest(client: Client, body: str, attachments: tuple[InboundAttachment, ...], extra: dict[str, Any]) -> int:
    result = await client.app[inbox_key].ingest(
        InboundMessage(
            channel="email",
            inbox="support",
            external_id=f"m{len(body)}@example.org",
            sender=ContactInfo(external_id="vera@example.org", email="vera@example.org", name="Vera"),
            text="Our new logo",
            html=body,
            attachments=attachments,
            extra=extra,
        )
    )
    return result.conversation_id


async def shown(client: Client, conversation_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=await auth_headers(client, "admin"))
    assert response.status == 200
    body = await response.json()
    [message] = body["messages"]
    return dict(message)


def test_stored_html_keeps_cid_sources_and_nothing_active() -> None:
    cleaned = sanitize_html(HTML)
    assert cleaned is not None
    assert 'src="cid:logo@shop"' in cleaned
    assert "script" not in cleaned and "onerror" not in cleaned


def test_content_ids_compare_without_brackets_and_percent_encoding() -> None:
    assert content_id("%3Cbanner%40shop%3E") == content_id("<banner@shop>") == "banner@shop"


async def test_cid_images_link_to_their_attachments(client: Client, staff: Staff) -> None:
    logo = await save(client, "logo.png", "image/png", PNG)
    banner = await save(client, "banner.png", "image/png", PNG + b"b")
    conversation = await ingest(
        client,
        HTML,
        (logo, banner),
        {
            "inline": {"logo@shop": "logo.png", "banner@shop": "banner.png"},
            "inline_paths": {"logo@shop": logo.storage_path, "banner@shop": banner.storage_path},
        },
    )
    message = await shown(client, conversation)
    files = {a["filename"]: a["url"] for a in message["attachments"]}
    rendered = message["html"]
    assert f'<img src="{files["logo.png"]}?inline=1" alt="logo">' in rendered
    assert f'<img src="{files["banner.png"]}?inline=1">' in rendered
    assert "cid:" not in rendered.lower()  # the unknown one and the link lose it
    assert "<img>" in rendered and '<a rel="nofollow noreferrer noopener">link</a>' in rendered
    assert "https://track.example/p.gif" in rendered  # remote images stay blocked by the page's CSP
    assert "script" not in rendered and "onerror" not in rendered

    # The console page puts the same HTML in the iframe, sandboxed but with the console's origin so
    # the image loads (CSP img-src 'self', the session cookie); scripts stay off.
    cookie, _csrf = await cookie_session(client, staff.admin)
    page = await (await client.get(f"/conversations/{conversation}", headers=cookie)).text()
    frame = re.search(r'<iframe class="msg-html" sandbox="allow-same-origin"[^>]*srcdoc="([^"]*)"', page)
    assert frame is not None
    assert f'src="{files["logo.png"]}?inline=1"' in html.unescape(frame.group(1))

    # The image comes through the attachment route: signed in, as itself; not without a login.
    image = await client.get(f"{files['logo.png']}?inline=1", headers=cookie)
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    assert await image.read() == PNG
    assert (await client.get(f"{files['logo.png']}?inline=1")).status == 401


async def test_images_with_the_same_file_name_are_told_apart_by_their_path(client: Client, staff: Staff) -> None:
    first = await save(client, "image.png", "image/png", PNG + b"1")
    second = await save(client, "image.png", "image/png", PNG + b"2")
    conversation = await ingest(
        client,
        '<img src="cid:one@x"><img src="cid:two@x">',
        (first, second),
        {
            "inline": {"one@x": "image.png", "two@x": "image.png"},
            "inline_paths": {"one@x": first.storage_path, "two@x": second.storage_path},
        },
    )
    message = await shown(client, conversation)
    one, two = (a["url"] for a in message["attachments"])
    assert message["html"] == f'<img src="{one}?inline=1"><img src="{two}?inline=1">'


async def test_a_cid_naming_a_file_that_is_not_an_image_is_dropped(client: Client, staff: Staff) -> None:
    script = await save(client, "evil.html", "text/html", b"<script>alert(1)</script>")
    conversation = await ingest(client, '<img src="cid:evil@x">', (script,), {"inline": {"evil@x": "evil.html"}})
    message = await shown(client, conversation)
    assert message["html"] == "<img>"


async def test_the_customer_s_own_relative_urls_are_dropped_and_keep_the_full_sandbox(
    client: Client, staff: Staff
) -> None:
    logo = await save(client, "logo.png", "image/png", PNG)
    body = (
        '<img src="/attachments/1/guessed?inline=1"><img src="../api/v1/me"><a href="/logout">x</a>'
        '<a href="#top">top</a><img src="cid:nothing@x">'
    )
    conversation = await ingest(client, body, (logo,), {"inline": {"logo@shop": "logo.png"}})
    message = await shown(client, conversation)
    assert message["html"] == '<img><img><a rel="nofollow noreferrer noopener">x</a>' + (
        '<a href="#top" rel="nofollow noreferrer noopener">top</a><img>'
    )
    cookie, _csrf = await cookie_session(client, staff.admin)
    page = await (await client.get(f"/conversations/{conversation}", headers=cookie)).text()
    assert '<iframe class="msg-html" sandbox=""' in page
