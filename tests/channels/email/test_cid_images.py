"""A real multipart/related email: its `cid:` image is stored and linked in the HTML the console shows."""

from __future__ import annotations

from email.message import EmailMessage

from tests.api.helpers import auth_headers
from tests.channels.email.conftest import Client, channel_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def related_mail() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Vera <vera@example.org>"
    mail["To"] = "support@lines.test"
    mail["Subject"] = "Logo"
    mail["Message-ID"] = "<cid-test@example.org>"
    mail.set_content("See the logo")
    mail.add_alternative('<p>See the logo</p><img src="cid:logo.123@example.org" alt="logo">', subtype="html")
    html_part = mail.get_payload()[1]
    html_part.add_related(PNG, "image", "png", cid="<logo.123@example.org>", filename="logo.png")
    return mail.as_bytes()


async def test_an_inline_image_is_linked_to_its_stored_attachment(email_client: Client) -> None:
    message_id = await channel_of(email_client).ingest_raw(related_mail())
    headers = await auth_headers(email_client, "admin")
    found = await email_client.get("/api/v1/conversations?view=all", headers=headers)
    [conversation] = (await found.json())["conversations"]
    body = await (await email_client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers)).json()
    [message] = [m for m in body["messages"] if m["id"] == message_id]
    [logo] = [a for a in message["attachments"] if a["filename"] == "logo.png"]
    assert f'<img src="{logo["url"]}?inline=1" alt="logo">' in message["html"]
    image = await email_client.get(f"{logo['url']}?inline=1", headers=headers)
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    assert await image.read() == PNG
