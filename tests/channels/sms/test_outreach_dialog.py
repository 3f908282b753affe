"""The inbox's "New conversation" dialog offers only channels that can start one, of the operator's teams."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import auth_headers
from tests.channels.sms.conftest import Client, Factory, twilio_gateway
from tests.channels.sms.twilio_standin import TwilioStandIn
from tests.conftest import PASSWORD


async def offered(client: Client, who: str) -> list[dict[str, Any]]:
    response = await client.get("/outreach/channels", headers=await auth_headers(client, who))
    assert response.status == 200, await response.text()
    return list((await response.json())["channels"])


def two_lines(twilio: TwilioStandIn) -> tuple[dict[str, Any], dict[str, Any]]:
    sales = twilio_gateway(twilio, name="sales-line", number="+15005550007", team="sales")
    return twilio_gateway(twilio), sales


async def test_an_operator_is_offered_only_the_sms_lines_of_their_team(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(*two_lines(twilio))
    assert await offered(client, "anna") == [{"channel": "sms", "inbox": "twilio", "team": "support"}]
    assert await offered(client, "boris") == [{"channel": "sms", "inbox": "sales-line", "team": "sales"}]


async def test_an_admin_is_offered_every_line_but_never_a_channel_that_cannot_write_first(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(*two_lines(twilio))
    got = await offered(client, "admin")
    assert [(c["channel"], c["inbox"]) for c in got] == [("sms", "sales-line"), ("sms", "twilio")]


async def test_signed_out_callers_get_no_channel_list(twilio: TwilioStandIn, make_sms_client: Factory) -> None:
    client = await make_sms_client(*two_lines(twilio))
    response = await client.get("/outreach/channels")
    assert response.status == 401


async def test_the_inbox_header_carries_the_new_conversation_button(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(twilio_gateway(twilio))
    await client.post("/login", data={"login": "anna", "password": PASSWORD}, allow_redirects=False)
    html = await (await client.get("/", headers={"Accept-Language": "ru"})).text()
    assert 'data-testid="new-conversation"' in html and "Новый диалог" in html
    assert "/static/outreach.js" in html
