"""A mailbox reading a real Dovecot on the Channels page: connected, read here, its last mail in."""

from __future__ import annotations

import re

from tests.api.helpers import eventually
from tests.channels.email.conftest import Client, compose
from tests.channels.email.servers import Dovecot
from tests.test_views import login


async def mailbox_row(client: Client) -> str:
    await login(client, "admin")
    html = await (await client.get("/admin/channels")).text()
    start = html.index('data-testid="channel-row" data-kind="email" data-name="support"')
    return html[start : html.index("</tr>", start)]


def cell(row: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</td>', row, re.S)
    assert match, testid
    return match.group(1)


async def test_a_connected_mailbox_shows_connected_its_reader_and_its_last_mail_without_the_password(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(*mail_user, compose("Ivan <ivan@example.org>", "Hello", "Hi there", message_id="h1@example.org"))

    async def arrived() -> bool:
        return "<time" in cell(await mailbox_row(email_client), "channel-last-in")

    await eventually(arrived)
    row = await mailbox_row(email_client)
    assert cell(row, "channel-state") == "Connected"
    assert "This worker" in cell(row, "channel-lease")
    assert cell(row, "channel-error") == "—"
    assert mail_user[1] not in row
