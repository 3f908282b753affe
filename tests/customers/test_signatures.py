"""Signatures on operators' replies: email always, chat channels when configured, never on notes;
rendered with the staff variables, escaped by each channel, composed with the mailbox signature."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lines.channels.base import ContactInfo, OutboundMessage
from lines.channels.email.adapter import EmailChannel, compose_signature
from lines.channels.email.config import EmailMailbox
from lines.console.settings import ConfigError, Settings
from tests.api.helpers import Client, auth_headers, eventually
from tests.conftest import Database, Staff, make_settings
from tests.customers.conftest import Channels
from tests.customers.helpers import customer_says
from tests.test_views import login


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, customers={"signature_channels": ["telegram"]})


async def conversation_on(client: Client, staff: Staff, channel: str, name: str = "Vera") -> int:
    from sqlalchemy import update

    from lines.console.keys import sessions_key
    from lines.console.models import Conversation

    result = await customer_says(client, "hello", channel=channel, name=name)
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == result.conversation_id)
            .values(team_id=staff.support, assignee_id=staff.anna)
        )
    return result.conversation_id


async def reply(client: Client, conversation_id: int, text: str, private: bool = False) -> dict[str, Any]:
    headers = await auth_headers(client, "anna")
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, "private": private}, headers=headers
    )
    assert response.status in (200, 201), await response.text()
    body: dict[str, Any] = await response.json()
    return body.get("message", body)


async def sign_as_anna(client: Client, text: str) -> None:
    headers = await auth_headers(client, "anna")
    response = await client.put("/api/v1/signatures/mine", json={"text": text}, headers=headers)
    assert response.status == 200, await response.text()


async def test_email_replies_always_get_the_operators_signature(client: Client, staff: Staff, fakes: Channels) -> None:
    await sign_as_anna(client, "{{operator.name}}, support\nTicket #{{conversation.number}} for {{contact.name}}")
    conversation_id = await conversation_on(client, staff, "email", name="Vera <b>")
    message = await reply(client, conversation_id, "Your refund is on its way.")
    expected = f"Anna Ivanova, support\nTicket #{conversation_id} for Vera <b>"
    assert message["signature"] == expected  # the operator sees what goes out

    async def sent() -> bool:
        return len(fakes["email"].sent) == 1

    await eventually(sent)
    assert fakes["email"].sent[0].text == f"Your refund is on its way.\n\n{expected}"


async def test_the_teams_signature_when_the_operator_has_none(client: Client, staff: Staff, fakes: Channels) -> None:
    lead = await auth_headers(client, "lead")
    await client.put(f"/api/v1/teams/{staff.support}/signature", json={"text": "The support team"}, headers=lead)
    conversation_id = await conversation_on(client, staff, "email")
    assert (await reply(client, conversation_id, "Hello"))["signature"] == "The support team"


async def test_chat_channels_only_when_configured_and_never_on_notes(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    await sign_as_anna(client, "Anna")
    telegram = await conversation_on(client, staff, "telegram")
    webchat = await conversation_on(client, staff, "webchat")
    assert (await reply(client, telegram, "Hi there"))["signature"] == "Anna"
    assert (await reply(client, webchat, "Hi there"))["signature"] is None
    assert (await reply(client, telegram, "internal", private=True))["signature"] is None

    async def both_sent() -> bool:
        return len(fakes["telegram"].sent) == 1 and len(fakes["webchat"].sent) == 1

    await eventually(both_sent)
    assert fakes["telegram"].sent[0].text == "Hi there\n\nAnna"
    assert fakes["webchat"].sent[0].text == "Hi there"


async def test_no_signature_set_means_nothing_is_added(client: Client, staff: Staff, fakes: Channels) -> None:
    conversation_id = await conversation_on(client, staff, "email")
    assert (await reply(client, conversation_id, "Plain"))["signature"] is None


async def test_a_signature_naming_a_signature_does_not_repeat_itself(client: Client, staff: Staff) -> None:
    await sign_as_anna(client, "Anna {{signature}}{{operator.signature}}")
    conversation_id = await conversation_on(client, staff, "email")
    assert (await reply(client, conversation_id, "Hi"))["signature"] == "Anna"


async def test_the_reply_box_shows_the_signature_that_will_be_added(client: Client, staff: Staff) -> None:
    await sign_as_anna(client, "Anna <i>from support</i>")
    email = await conversation_on(client, staff, "email")
    webchat = await conversation_on(client, staff, "webchat")
    await login(client, "anna")
    page = await (await client.get(f"/conversations/{email}")).text()
    assert 'data-testid="reply-signature"' in page
    assert "Anna &lt;i&gt;from support&lt;/i&gt;" in page and "<i>from support" not in page
    assert 'data-testid="reply-signature"' not in await (await client.get(f"/conversations/{webchat}")).text()


def test_signature_channels_must_be_chat_channel_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="signature_channels"):
        make_settings(
            tmp_path, Database("sqlite", "sqlite+aiosqlite:///x.db"), customers={"signature_channels": ["fax"]}
        )


def test_the_mailbox_signature_composes_with_the_personal_one() -> None:
    values: dict[str, object] = {"operator.name": "Anna"}
    assert compose_signature("", "Anna, support", values) == "Anna, support"
    assert compose_signature("ACME Ltd · acme.example", "", values) == "ACME Ltd · acme.example"
    assert compose_signature("ACME Ltd", "Anna, support", values) == "Anna, support\n\nACME Ltd"
    assert compose_signature("Best,\n{{signature}}\nACME Ltd", "Anna", values) == "Best,\nAnna\nACME Ltd"
    assert compose_signature("{{operator.name}} at ACME", "", values) == "Anna at ACME"


def test_an_email_reply_carries_both_under_the_delimiter_and_escapes_html() -> None:
    mailbox = EmailMailbox(
        name="support", address="support@acme.example", imap_host="imap.acme.example", signature="ACME Ltd"
    )
    settings = SimpleNamespace(server=SimpleNamespace(secret_key=SimpleNamespace(get_secret_value=lambda: "k" * 20)))
    channel = EmailChannel(mailbox, SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    message = OutboundMessage(
        message_id=7,
        conversation_id=3,
        channel="email",
        inbox="support",
        recipient=ContactInfo(external_id="vera@example.org", display="Vera"),
        text="Hello",
        author_kind="operator",
        author_name="Anna",
        extra={"signature": "Anna <script>x</script>"},
    )
    mail = channel.build(message)
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n").endswith("Hello\n\n-- \nAnna <script>x</script>\n\nACME Ltd\n")
    body = html.get_content()
    assert "Anna &lt;script&gt;x&lt;/script&gt;<br><br>ACME Ltd" in body and "<script>" not in body
