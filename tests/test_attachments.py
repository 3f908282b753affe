"""Attachment downloads: signed in, allowed to see the conversation, right token, served inert."""

from __future__ import annotations

from sqlalchemy import select

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import files_key, inbox_key, sessions_key
from lines.console.models import Attachment
from tests.api.helpers import Client, auth_headers
from tests.conftest import Staff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def stored(client: Client, filename: str, content_type: str, data: bytes) -> Attachment:
    saved = await client.app[files_key].save(filename, content_type, data, limit=1 << 20)
    await client.app[inbox_key].ingest(
        InboundMessage(
            channel="webchat",
            inbox="demo",
            external_id=f"file-{filename}",
            sender=ContactInfo(external_id="visitor-1", name="Vera"),
            text=filename,
            attachments=(saved,),
        )
    )
    async with client.app[sessions_key]() as session:
        attachment = await session.scalar(select(Attachment).where(Attachment.sha256 == saved.sha256))
    assert attachment is not None
    return attachment


def url(attachment: Attachment, token: str | None = None) -> str:
    return f"/attachments/{attachment.id}/{token or attachment.token}"


async def test_an_operator_of_the_team_downloads_the_file(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "invoice.pdf", "application/pdf", b"%PDF-1.4 test")
    response = await client.get(url(attachment), headers=await auth_headers(client, "anna"))
    assert response.status == 200
    assert await response.read() == b"%PDF-1.4 test"
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''invoice.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_without_a_login_the_file_is_401(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "invoice.pdf", "application/pdf", b"%PDF")
    response = await client.get(url(attachment))
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthenticated"


async def test_a_wrong_token_is_404(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "invoice.pdf", "application/pdf", b"%PDF")
    response = await client.get(url(attachment, "guessed"), headers=await auth_headers(client, "anna"))
    assert response.status == 404


async def test_an_operator_of_another_team_gets_404_even_with_the_token(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "invoice.pdf", "application/pdf", b"%PDF")
    response = await client.get(url(attachment), headers=await auth_headers(client, "boris"))
    assert response.status == 404


async def test_html_is_served_as_an_opaque_download_even_when_inline_is_asked(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "page.html", "text/html", b"<script>alert(1)</script>")
    response = await client.get(url(attachment) + "?inline=1", headers=await auth_headers(client, "anna"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")


async def test_raster_images_may_be_shown_inline(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "photo.png", "image/png", PNG)
    response = await client.get(url(attachment) + "?inline=1", headers=await auth_headers(client, "anna"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline;")


async def test_a_cyrillic_file_name_is_percent_encoded_in_the_header(client: Client, staff: Staff) -> None:
    attachment = await stored(client, "счёт.pdf", "application/pdf", b"%PDF")
    response = await client.get(url(attachment), headers=await auth_headers(client, "anna"))
    assert response.headers["Content-Disposition"] == ("attachment; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82.pdf")
