"""An operator starts an SMS conversation; the customer's answer threads into it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from lines.console.keys import sessions_key
from lines.console.models import Contact, ContactIdentity, Conversation
from tests.api.helpers import auth_headers, error_of, eventually
from tests.channels.sms.conftest import Client, Factory, messages, twilio_gateway
from tests.channels.sms.test_twilio import inbound_url, status_of
from tests.channels.sms.twilio_standin import TwilioStandIn


async def start(client: Client, who: str = "anna", **body: Any) -> Any:
    payload = {"channel": "sms", "inbox": "twilio", "to": "8 916 123-45-67", "text": "Your order is ready", **body}
    return await client.post("/api/v1/conversations", json=payload, headers=await auth_headers(client, who))


async def test_an_operator_starts_an_sms_conversation_to_a_number_that_never_wrote(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    response = await start(client)
    assert response.status == 201, await response.text()
    body = await response.json()
    conversation, message = body["conversation"], body["message"]
    assert (conversation["channel"], conversation["inbox"], conversation["status"]) == ("sms", "twilio", "open")
    assert conversation["assignee"]["login"] == "anna"
    assert message["direction"] == "out" and message["delivery_status"] == "queued"

    async def sent() -> bool:
        return await status_of(client, message["id"]) == "sent"

    await eventually(sent)
    assert [(s.to, s.body) for s in twilio.sent] == [("+79161234567", "Your order is ready")]


async def test_the_customers_answer_threads_into_the_started_conversation(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    started = (await (await start(client)).json())["conversation"]["id"]
    status, _ = await twilio.inbound(inbound_url(client), "+79161234567", "Thanks, coming tomorrow")
    assert status == 200
    answer = [m for m in await messages(client) if m.direction == "in"][-1]
    assert answer.conversation_id == started
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1
        assert await session.scalar(select(func.count()).select_from(Contact)) == 1


async def test_a_malformed_number_is_refused_with_a_clear_error_and_nothing_is_created(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    response = await start(client, to="call me maybe")
    assert await error_of(response) == (422, "invalid_recipient")
    response = await start(client, to="+7 916")
    body = await response.json()
    assert response.status == 422 and "not a valid phone number" in body["error"]["message"]
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0


async def test_an_unknown_channel_is_refused(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    assert await error_of(await start(client, inbox="nope")) == (422, "unknown_channel")


async def test_a_channel_that_cannot_start_conversations_says_so(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    response = await start(client, channel="webchat", inbox="demo", to="visitor-1")
    assert await error_of(response) == (422, "invalid_recipient")


async def test_a_number_known_from_another_channel_reuses_that_contact(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    async with client.app[sessions_key]() as session, session.begin():
        session.add(Contact(name="Vera", phone="+79161234567"))
    body = await (await start(client)).json()
    assert body["conversation"]["contact"]["name"] == "Vera"


async def test_a_blank_text_is_refused_before_anything_is_created(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    assert await error_of(await start(client, text="   ")) == (422, "empty_text")
    assert await messages(client) == []


async def test_an_operator_of_another_team_cannot_start_a_conversation_on_a_teams_channel(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))  # the gateway belongs to team support
    assert await error_of(await start(client, who="boris")) == (403, "not_in_team")
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
        assert await session.scalar(select(func.count()).select_from(ContactIdentity)) == 0
    assert twilio.sent == []


async def test_another_teams_customer_cannot_be_taken_over_through_ones_own_channel(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(
        twilio_gateway(twilio), twilio_gateway(twilio, name="sales-sms", number="+15005550007", team="sales")
    )
    assert (await start(client, who="anna")).status == 201
    response = await start(client, who="boris", inbox="sales-sms")
    assert await error_of(response) == (403, "customer_of_another_team")
    async with client.app[sessions_key]() as session:
        conversations = (await session.scalars(select(Conversation))).all()
        assert [(c.inbox, c.assignee_id) for c in conversations] == [("twilio", conversations[0].assignee_id)]
        identities = (await session.scalars(select(ContactIdentity.inbox))).all()
        assert identities == ["twilio"]


async def test_a_started_conversations_assignee_is_a_member_of_its_team(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio, team="sales"))
    assert await error_of(await start(client, who="anna")) == (403, "not_in_team")
    body = await (await start(client, who="boris")).json()
    assert (body["conversation"]["team"]["name"], body["conversation"]["assignee"]["login"]) == ("sales", "boris")
