"""What a customer reads back: public messages only, the gap after `last_seen` from its start."""

from __future__ import annotations

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import history_key, inbox_key
from tests.api.helpers import Client
from tests.conftest import Staff


async def say(client: Client, n: int) -> list[int]:
    ids = []
    for i in range(n):
        result = await client.app[inbox_key].ingest(
            InboundMessage(
                channel="webchat",
                inbox="demo",
                external_id=f"m-{i}",
                sender=ContactInfo(external_id="visitor:v1"),
                text=f"message {i}",
            )
        )
        ids.append(result.message_id)
    return ids


async def test_a_new_page_gets_the_latest_messages_oldest_first(client: Client, staff: Staff) -> None:
    ids = await say(client, 5)
    history = client.app[history_key]
    _, messages = await history.latest("webchat", "demo", "visitor:v1", None, limit=3)
    assert [m["id"] for m in messages] == ids[-3:]


async def test_a_resume_gets_the_gap_from_its_start_even_when_it_is_long(client: Client, staff: Staff) -> None:
    ids = await say(client, 8)
    history = client.app[history_key]
    _, messages = await history.latest("webchat", "demo", "visitor:v1", ids[0], limit=3, resume_limit=5)
    assert [m["id"] for m in messages] == ids[1:6]


async def test_an_unknown_visitor_has_no_conversation(client: Client, staff: Staff) -> None:
    assert await client.app[history_key].latest("webchat", "demo", "visitor:nobody", None) == (None, [])
