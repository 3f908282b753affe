"""Kannel for real: bearerbox + smsbox with fakesmsc as the phone (LINES_TEST_KANNEL=1)."""

from __future__ import annotations

from sqlalchemy import select

from lines.console.keys import sessions_key
from lines.console.models import Contact, Conversation
from tests.api.helpers import auth_headers, eventually
from tests.channels.sms.conftest import Factory, messages
from tests.channels.sms.kannel import Kannel


async def test_an_sms_from_the_phone_appears_and_the_reply_goes_back_with_its_delivery_report(
    kannel: Kannel, make_sms_client: Factory
) -> None:
    client = await make_sms_client(kannel.gateway())
    kannel.send_from_phone("79161234567 1000 text Hello, is my order ready?")

    async def arrived() -> bool:
        return any(m.direction == "in" for m in await messages(client))

    await eventually(arrived, timeout=20)
    inbound = next(m for m in await messages(client) if m.direction == "in")
    assert inbound.text == "Hello, is my order ready?"
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, inbound.conversation_id)
        assert conversation is not None
        contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None and contact.phone == "+79161234567"
    assert (conversation.channel, conversation.inbox) == ("sms", "kannel")

    reply_text = "Здравствуйте! Заказ готов, ждём вас в пункте выдачи."
    response = await client.post(
        f"/api/v1/conversations/{conversation.id}/messages",
        json={"text": reply_text},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 201, await response.text()
    reply_id = (await response.json())["id"]

    async def at_the_phone() -> bool:
        return len(kannel.received()) >= 1

    await eventually(at_the_phone, timeout=20)
    got = kannel.received()
    assert len(got) == 1, got
    assert got[0].coding == "ucs-2"
    assert got[0].text == reply_text
    assert got[0].receiver == "+79161234567"

    async def delivered() -> bool:
        return {m.id: m for m in await messages(client)}[reply_id].delivery_status == "delivered"

    await eventually(delivered, timeout=20)


async def test_a_cyrillic_sms_from_the_phone_is_decoded_from_ucs2(kannel: Kannel, make_sms_client: Factory) -> None:
    client = await make_sms_client(kannel.gateway())
    ucs2 = "".join(f"%{b:02X}" for b in "Привет, СТОП не пишу".encode("utf-16-be"))
    kannel.send_from_phone(f"89161234567 1000 ucs2 {ucs2}")

    async def arrived() -> bool:
        return any(m.direction == "in" for m in await messages(client))

    await eventually(arrived, timeout=20)
    inbound = next(m for m in await messages(client) if m.direction == "in")
    assert inbound.text == "Привет, СТОП не пишу"
    assert inbound.extra["sms"] == {"encoding": "ucs2", "segments": 1}


async def test_a_long_reply_leaves_kannel_as_its_counted_gsm7_parts(kannel: Kannel, make_sms_client: Factory) -> None:
    client = await make_sms_client(kannel.gateway())
    kannel.send_from_phone("79161234567 1000 text hi")

    async def arrived() -> bool:
        return any(m.direction == "in" for m in await messages(client))

    await eventually(arrived, timeout=20)
    conversation_id = (await messages(client))[0].conversation_id
    text = "Your parcel is ready. " * 10  # 220 GSM-7 characters: two parts of at most 153
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 201

    async def both_parts() -> bool:
        return len(kannel.received()) >= 2

    await eventually(both_parts, timeout=20)
    assert len(kannel.received()) == 2
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(Conversation.id)) == conversation_id


async def test_a_concatenated_sms_whose_parts_arrive_out_of_order_is_one_message(
    kannel: Kannel, make_sms_client: Factory
) -> None:
    client = await make_sms_client(kannel.gateway())
    # UDH 05 00 03 <ref> <total> <seq>: part 2 of 2 reaches the SMSC before part 1.
    kannel.send_from_phone("79161234567 1000 udh %05%00%03%2A%02%02 world%21")

    async def part_two_sent() -> bool:
        return "sent message 1" in (kannel.workdir / "fakesmsc.out").read_text(errors="replace")

    await eventually(part_two_sent, timeout=20)
    kannel.send_from_phone("79161234567 1000 udh %05%00%03%2A%02%01 Hello+")

    async def arrived() -> bool:
        return any(m.direction == "in" for m in await messages(client))

    await eventually(arrived, timeout=20)
    assert [m.text for m in await messages(client) if m.direction == "in"] == ["Hello world!"]


async def test_an_sms_that_comes_while_lines_is_down_arrives_once_lines_is_back(
    kannel: Kannel, make_sms_client: Factory
) -> None:
    kannel.send_from_phone("79161234567 1000 text Are you there?")

    async def refused_at_least_once() -> bool:
        return "Couldn't fetch" in (kannel.workdir / "smsbox.log").read_text(errors="replace")

    await eventually(refused_at_least_once, timeout=20)
    client = await make_sms_client(kannel.gateway())

    async def arrived() -> bool:
        return any(m.direction == "in" for m in await messages(client))

    await eventually(arrived, timeout=20)
    assert [m.text for m in await messages(client) if m.direction == "in"] == ["Are you there?"]
