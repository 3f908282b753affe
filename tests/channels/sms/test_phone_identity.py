"""One phone number, one customer card: SMS, a Telegram shared contact and the widget's pre-chat
phone meet in the contact whose `phone` is that E.164 number."""

from __future__ import annotations

import uuid

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Contact, ContactIdentity

PHONE = "+79161234567"


def message(channel: str, inbox: str, external_id: str, phone: str | None = None, name: str = "") -> InboundMessage:
    return InboundMessage(
        channel=channel,
        inbox=inbox,
        external_id=uuid.uuid4().hex,
        sender=ContactInfo(external_id=external_id, phone=phone, name=name),
        text="hello",
    )


async def contacts(client: TestClient[web.Request, web.Application]) -> list[Contact]:
    async with client.app[sessions_key]() as session:
        return list(await session.scalars(select(Contact).order_by(Contact.id)))


async def test_an_sms_identity_joins_the_contact_who_gave_that_phone_elsewhere(
    client: TestClient[web.Request, web.Application],
) -> None:
    inbox = client.app[inbox_key]
    first = await inbox.ingest(message("telegram", "bot", "tg-42", phone=PHONE, name="Vera"))
    second = await inbox.ingest(message("sms", "main", PHONE, phone=PHONE))
    assert second.contact_id == first.contact_id
    (contact,) = await contacts(client)
    assert (contact.name, contact.phone) == ("Vera", PHONE)
    async with client.app[sessions_key]() as session:
        identities = list(await session.scalars(select(ContactIdentity.channel).order_by(ContactIdentity.id)))
    assert identities == ["telegram", "sms"]


async def test_a_known_identity_that_now_gives_a_phone_fills_the_contacts_phone(
    client: TestClient[web.Request, web.Application],
) -> None:
    inbox = client.app[inbox_key]
    await inbox.ingest(message("webchat", "demo", "visitor-1"))
    await inbox.ingest(message("webchat", "demo", "visitor-1", phone=PHONE))
    (contact,) = await contacts(client)
    assert contact.phone == PHONE
    later = await inbox.ingest(message("sms", "main", PHONE, phone=PHONE))
    assert later.contact_id == contact.id


async def test_a_phone_already_set_is_not_overwritten_by_another(
    client: TestClient[web.Request, web.Application],
) -> None:
    inbox = client.app[inbox_key]
    await inbox.ingest(message("webchat", "demo", "visitor-1", phone=PHONE))
    await inbox.ingest(message("webchat", "demo", "visitor-1", phone="+79990000000"))
    (contact,) = await contacts(client)
    assert contact.phone == PHONE


async def test_identities_without_a_phone_stay_separate_contacts(
    client: TestClient[web.Request, web.Application],
) -> None:
    inbox = client.app[inbox_key]
    await inbox.ingest(message("webchat", "demo", "visitor-1"))
    await inbox.ingest(message("webchat", "demo", "visitor-2"))
    assert len(await contacts(client)) == 2
