"""STOP / СТОП / ОТПИСКА: the number is opted out, nothing more is sent, the operator sees why."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lines.console.keys import sessions_key
from lines.console.models import ContactIdentity
from tests.api.helpers import eventually
from tests.channels.sms.conftest import Client, Factory, messages, twilio_gateway
from tests.channels.sms.test_twilio import PHONE, customer_writes, reply, status_of
from tests.channels.sms.twilio_standin import TwilioStandIn


async def identity_state(client: Client) -> tuple[str, str]:
    async with client.app[sessions_key]() as session:
        identity = await session.scalar(select(ContactIdentity).where(ContactIdentity.external_id == PHONE))
    assert identity is not None
    return identity.state, identity.state_reason


@pytest.mark.parametrize("word", ["STOP", "стоп", "Отписка!", " stop. "])
async def test_an_opt_out_keyword_marks_the_number_opted_out_and_notes_it(
    twilio: TwilioStandIn, make_sms_client: Factory, word: str
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    conversation_id = await customer_writes(client, twilio, word)
    state, reason = await identity_state(client)
    assert state == "opted_out" and word.strip() in reason
    notes = [m for m in await messages(client, conversation_id) if m.direction == "system"]
    assert len(notes) == 1 and "opted out" in notes[0].text


async def test_a_sentence_containing_stop_is_not_an_opt_out(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    await customer_writes(client, twilio, "Please stop the delivery until Monday")
    assert (await identity_state(client))[0] == "active"


async def test_nothing_is_sent_to_an_opted_out_number_and_the_operator_sees_why(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    conversation_id = await customer_writes(client, twilio, "STOP")
    reply_id = await reply(client, conversation_id, "But wait, a discount!")

    async def failed() -> bool:
        return await status_of(client, reply_id) == "failed"

    await eventually(failed)
    assert twilio.requests == 0
    note = [m for m in await messages(client, conversation_id) if m.direction == "system"][-1]
    assert "opted out" in note.text


async def test_the_opt_out_keywords_are_configurable(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(twilio_gateway(twilio, opt_out_keywords=["HALT"]))
    await customer_writes(client, twilio, "STOP")
    assert (await identity_state(client))[0] == "active"
    await customer_writes(client, twilio, "halt")
    assert (await identity_state(client))[0] == "opted_out"


async def test_start_after_stop_makes_the_number_reachable_again(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    await customer_writes(client, twilio, "STOP")
    conversation_id = await customer_writes(client, twilio, "START")
    assert await identity_state(client) == ("active", "")
    reply_id = await reply(client, conversation_id, "Welcome back")

    async def sent() -> bool:
        return await status_of(client, reply_id) == "sent"

    await eventually(sent)


async def test_a_repeated_stop_webhook_notes_the_opt_out_once(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    await customer_writes(client, twilio, "STOP", sid="SMstop")
    await customer_writes(client, twilio, "STOP", sid="SMstop")
    assert len([m for m in await messages(client) if m.direction == "system"]) == 1
