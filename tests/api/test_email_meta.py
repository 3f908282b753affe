"""A message of an email conversation carries its console flags, in the API and when pushed live."""

from __future__ import annotations

from typing import Any

from lines.console.api.schemas import ConversationDetail, MessageOut
from lines.console.keys import inbox_key
from tests.api.helpers import Client, auth_headers, inbound, inbound_email
from tests.conftest import Staff


async def next_of(ws: Any, type_: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=5)
        if frame["type"] == type_:
            return frame


async def test_a_pushed_email_message_carries_its_flags_and_nothing_else_of_extra(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "admin")
    ws = await client.ws_connect("/api/v1/events", headers=headers)
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await client.app[inbox_key].ingest(
            inbound_email(
                "I am away.",
                subject="Away",
                raw_path="2026/11/raw",
                auto="auto_reply",
                too_large=["big.zip"],
                quoted="> old part",
                unreadable="bad mime",
            )
        )
        pushed = (await next_of(ws, "message.created"))["data"]
    finally:
        await ws.close()
    MessageOut.model_validate(pushed)
    flags = {
        "auto": "auto_reply",
        "unreadable": True,
        "too_large": ["big.zip"],
        "quoted": "> old part",
        "repaired": False,
        "new_address": None,
    }
    assert pushed["email"] == flags
    assert "extra" not in pushed and "raw_path" not in str(pushed) and "headers" not in pushed

    response = await client.get(f"/api/v1/conversations/{pushed['conversation_id']}", headers=headers)
    detail = await response.json()
    ConversationDetail.model_validate(detail)
    assert [m["email"] for m in detail["messages"]] == [pushed["email"]]


async def test_html_mail_shows_its_own_history_and_other_channels_have_no_email_field(
    client: Client, staff: Staff
) -> None:
    inbox = client.app[inbox_key]
    html_mail = await inbox.ingest(inbound_email("Bounced", html="<p>Bounced</p>", auto="bounce", quoted="> q"))
    chat = await inbox.ingest(inbound("hello from chat"))
    headers = await auth_headers(client, "admin")
    mail = await (await client.get(f"/api/v1/conversations/{html_mail.conversation_id}", headers=headers)).json()
    assert mail["messages"][0]["email"] == {
        "auto": "bounce",
        "unreadable": False,
        "too_large": [],
        "quoted": None,
        "repaired": False,
        "new_address": None,
    }
    other = await (await client.get(f"/api/v1/conversations/{chat.conversation_id}", headers=headers)).json()
    assert other["messages"][0]["email"] is None
