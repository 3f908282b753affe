"""The Twilio-compatible provider against the stand-in: signed webhooks in, REST out, callbacks."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Contact, ContactIdentity, Message
from tests.api.helpers import auth_headers, eventually
from tests.channels.sms.conftest import Client, Factory, messages, twilio_gateway
from tests.channels.sms.twilio_standin import TwilioStandIn

PHONE = "+79161234567"


def inbound_url(client: Client) -> str:
    return str(client.make_url("/channels/sms/twilio/inbound"))


async def count_messages(client: Client) -> int:
    async with client.app[sessions_key]() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def customer_writes(client: Client, twilio: TwilioStandIn, text: str = "Hi there", **kw: str) -> int:
    """The customer's SMS arrives; returns its conversation id."""
    status, body = await twilio.inbound(inbound_url(client), PHONE, text, **kw)
    assert status == 200, body
    assert "<Response>" in body
    return [m for m in await messages(client) if m.direction == "in"][-1].conversation_id


async def reply(client: Client, conversation_id: int, text: str, who: str = "anna") -> int:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=await auth_headers(client, who),
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


async def status_of(client: Client, message_id: int) -> str:
    return {m.id: m for m in await messages(client)}[message_id].delivery_status


async def test_a_signed_inbound_sms_creates_a_conversation_with_the_e164_contact(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    await customer_writes(client, twilio, "Where is my parcel?")
    async with client.app[sessions_key]() as session:
        identity = await session.scalar(select(ContactIdentity))
        assert identity is not None
        contact = await session.get(Contact, identity.contact_id)
    assert (identity.channel, identity.inbox, identity.external_id) == ("sms", "twilio", PHONE)
    assert contact is not None and contact.phone == PHONE


async def test_an_unsigned_webhook_is_refused_and_nothing_is_stored(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    params = {"MessageSid": "SM1", "From": PHONE, "To": "+15005550006", "Body": "hi"}
    status, _ = await twilio.post_signed(inbound_url(client), params, sign=False)
    assert status == 403
    assert await count_messages(client) == 0


async def test_a_webhook_signed_with_another_token_is_refused_and_nothing_is_stored(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    params = {"MessageSid": "SM1", "From": PHONE, "To": "+15005550006", "Body": "hi"}
    status, _ = await twilio.post_signed(inbound_url(client), params, token="someone-elses-token")
    assert status == 403
    assert await count_messages(client) == 0


async def test_a_webhook_whose_fields_were_changed_after_signing_is_refused(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    from lines.channels.sms.providers.twilio import signature

    url = inbound_url(client)
    params = {"MessageSid": "SM1", "From": PHONE, "To": "+15005550006", "Body": "hi"}
    sig = signature(twilio.token, url, params.items())
    async with client.session.post(
        url, data={**params, "Body": "send me everything"}, headers={"X-Twilio-Signature": sig}
    ) as response:
        assert response.status == 403
    assert await count_messages(client) == 0


async def test_a_status_callback_without_signature_is_refused(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    url = str(client.make_url("/channels/sms/twilio/status"))
    status, _ = await twilio.post_signed(url, {"MessageSid": "SM1", "MessageStatus": "failed"}, sign=False)
    assert status == 403


async def test_the_same_provider_message_id_delivered_repeatedly_is_stored_once(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    url = inbound_url(client)
    results = await asyncio.gather(*(twilio.inbound(url, PHONE, "only once", sid="SMdup") for _ in range(5)))
    assert all(status == 200 for status, _ in results)
    await twilio.inbound(url, PHONE, "only once", sid="SMdup")
    assert [m.text for m in await messages(client)] == ["only once"]


async def test_media_urls_in_an_inbound_webhook_are_never_fetched(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    await customer_writes(client, twilio, "look", NumMedia="1", MediaUrl0="http://169.254.169.254/latest/meta-data/")
    (message,) = await messages(client)
    assert message.text == "look"
    assert "169.254" not in str(message.extra)


async def test_a_reply_goes_out_through_the_rest_api_and_its_callback_marks_it_delivered(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    conversation_id = await customer_writes(client, twilio)
    reply_id = await reply(client, conversation_id, "Your parcel left the warehouse.")

    async def sent() -> bool:
        return await status_of(client, reply_id) == "sent" and len(twilio.sent) == 1

    await eventually(sent)
    (out,) = twilio.sent
    assert (out.to, out.sender, out.body) == (PHONE, "+15005550006", "Your parcel left the warehouse.")
    assert out.status_callback == str(client.make_url("/channels/sms/twilio/status"))
    assert (await twilio.report(out, "sent"))[0] == 200
    assert (await twilio.report(out, "delivered"))[0] == 200
    assert await status_of(client, reply_id) == "delivered"


async def test_an_undelivered_callback_fails_the_message_and_tells_the_operator(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    conversation_id = await customer_writes(client, twilio)
    reply_id = await reply(client, conversation_id, "Hello")

    async def sent() -> bool:
        return await status_of(client, reply_id) == "sent"

    await eventually(sent)
    await twilio.report(twilio.sent[0], "undelivered", error_code="30003")
    assert await status_of(client, reply_id) == "failed"
    notes = [m for m in await messages(client, conversation_id) if m.direction == "system"]
    assert notes and "30003" in notes[-1].text


async def test_a_gateway_answering_500_is_retried_and_the_reply_is_sent_once(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    conversation_id = await customer_writes(client, twilio)
    twilio.fail_with = [500, 503]
    reply_id = await reply(client, conversation_id, "Retry me")

    async def sent() -> bool:
        return await status_of(client, reply_id) == "sent"

    await eventually(sent)
    assert twilio.requests == 3
    assert [s.body for s in twilio.sent] == ["Retry me"]


async def test_a_gateway_that_times_out_is_retried_not_lost(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(twilio_gateway(twilio, request_timeout_seconds=0.3))
    conversation_id = await customer_writes(client, twilio)
    twilio.hang_for, twilio.hang_times = 2.0, 1
    reply_id = await reply(client, conversation_id, "Slow gateway")

    async def sent() -> bool:
        return await status_of(client, reply_id) == "sent"

    await eventually(sent)
    assert twilio.requests >= 2
    assert "Slow gateway" in [s.body for s in twilio.sent]


async def test_a_reply_longer_than_the_segment_limit_is_refused_and_the_operator_sees_why(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio, max_segments=6))
    conversation_id = await customer_writes(client, twilio)
    reply_id = await reply(client, conversation_id, "a" * 153 * 10)  # ten GSM-7 parts

    async def failed() -> bool:
        return await status_of(client, reply_id) == "failed"

    await eventually(failed)
    assert twilio.requests == 0
    note = [m for m in await messages(client, conversation_id) if m.direction == "system"][-1]
    assert "10 SMS parts" in note.text and "at most 6" in note.text


async def test_the_gateway_refusing_a_number_fails_the_message_without_retrying(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    conversation_id = await customer_writes(client, twilio)
    twilio.fail_with = [400]
    reply_id = await reply(client, conversation_id, "Hello")

    async def failed() -> bool:
        return await status_of(client, reply_id) == "failed"

    await eventually(failed)
    assert twilio.requests == 1


async def test_a_webhook_that_cannot_be_stored_gets_a_5xx_so_the_gateway_retries_it(
    twilio: TwilioStandIn, make_sms_client: Factory, monkeypatch: Any
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    inbox = client.app[inbox_key]
    real_ingest = inbox.ingest

    async def store_down(message: Any) -> Any:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr(inbox, "ingest", store_down)
    status, _ = await twilio.inbound(inbound_url(client), PHONE, "are you there?", sid="SMretry")
    assert status >= 500
    monkeypatch.setattr(inbox, "ingest", real_ingest)
    status, _ = await twilio.inbound(inbound_url(client), PHONE, "are you there?", sid="SMretry")
    assert status == 200
    assert [m.text for m in await messages(client)] == ["are you there?"]
