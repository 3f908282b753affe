"""A mail loop through a real Dovecot: mail whose From is the mailbox's own address gets nothing
automatic back (no acknowledgement, no bot away notice), while a person's mail gets it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import select

from lines.console.availability import Openness
from lines.console.changes import ChangeJob, Inbound
from lines.console.keys import availability_key, processors_key, sessions_key
from lines.console.models import Direction, Message
from tests.api.helpers import eventually
from tests.channels.email.conftest import SUPPORT, MakeClient, compose
from tests.channels.email.servers import Dovecot, Sink
from tests.channels.email.test_threads import inbound, sent


async def closed(channel: str, inbox: str, team: Any, at: datetime) -> Openness:
    """Lines is not open: business hours over and nobody online (the bot's away notice)."""
    return Openness(open=False)


async def test_mail_from_our_own_address_gets_nothing_automatic(
    make_email_client: MakeClient, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    client = await make_email_client(settings_extra={"customers": {"auto_ack": {"email": "Got it"}}})
    # The bot would tell a person that operators are away.
    client.app[availability_key].open_for = closed  # type: ignore[method-assign]
    handled: list[ChangeJob] = []

    async def record(job: ChangeJob) -> None:
        handled.append(job)

    client.app[processors_key].append(record)
    dovecot.append(*mail_user, compose(f"Support <{SUPPORT}>", "Re: x", "echo", message_id="echo@lines.test"))
    [echo] = await inbound(client, 1)
    assert echo.automatic == "loop"

    async def processed() -> bool:
        return any(isinstance(j, Inbound) and j.message_id == echo.id for j in handled)

    await eventually(processed)
    dovecot.append(*mail_user, compose("Ivan <ivan@example.org>", "Help", "help me", message_id="p@example.org"))
    await inbound(client, 2)
    await sent(sink, 2)  # the person's acknowledgement and away notice
    await asyncio.sleep(0.3)
    assert {tuple(recipients) for recipients, _ in sink.messages} == {("ivan@example.org",)}
    async with client.app[sessions_key]() as session:
        answered = await session.scalar(
            select(Message.id).where(
                Message.conversation_id == echo.conversation_id, Message.direction == Direction.OUT
            )
        )
    assert answered is None
