"""Kannel's webhooks without Kannel: the shared secret, the fields, the report types."""

from __future__ import annotations

from urllib.parse import quote

from tests.channels.sms.conftest import Client, Factory, messages
from tests.channels.sms.kannel import SECRET, free_port

PHONE = "+79161234567"


def gateway(**overrides: object) -> dict[str, object]:
    return {
        "name": "kannel",
        "provider": "kannel",
        "number": "1000",
        "sendsms_url": f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms",
        "username": "lines",
        "password": "pw",
        "inbound_secret": SECRET,
        **overrides,
    }


async def mo(client: Client, secret: str = SECRET, **fields: str) -> int:
    query = {"secret": secret, "id": "k-1", "from": "79161234567", "to": "1000", "text": "hi", **fields}
    qs = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    async with client.session.get(client.make_url(f"/channels/sms/kannel/inbound?{qs}")) as response:
        return response.status


async def test_an_inbound_call_with_the_wrong_secret_is_refused_and_nothing_is_stored(
    make_sms_client: Factory,
) -> None:
    client = await make_sms_client(gateway())
    assert await mo(client, secret="guess") == 403
    assert await mo(client, secret="") == 403
    assert await messages(client) == []


async def test_an_inbound_call_without_a_message_id_is_a_bad_request(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    assert await mo(client, id="") == 400
    assert await messages(client) == []


async def test_an_empty_inbound_sms_is_stored_as_an_empty_message(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    assert await mo(client, text="") == 200
    (message,) = await messages(client)
    assert message.text == "" and message.extra["sms"]["segments"] == 0


async def test_ucs2_text_in_the_query_is_decoded(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    raw = "".join(f"%{b:02X}" for b in "Привет".encode("utf-16-be"))
    url = f"/channels/sms/kannel/inbound?secret={SECRET}&id=k-2&from=79161234567&text={raw}&coding=2&charset=UTF-16BE"
    async with client.session.get(client.make_url(url)) as response:
        assert response.status == 200
    assert [m.text for m in await messages(client)] == ["Привет"]


async def test_an_alphanumeric_sender_becomes_an_identity_without_a_phone(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    assert await mo(client, **{"from": "MyBank"}) == 200
    assert len(await messages(client)) == 1


async def test_a_report_with_an_unknown_type_is_a_bad_request(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    url = f"/channels/sms/kannel/status?secret={SECRET}&ref=1-abc&type=99"
    async with client.session.get(client.make_url(url)) as response:
        assert response.status == 400


async def test_a_report_with_the_wrong_secret_is_refused(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    async with client.session.get(client.make_url("/channels/sms/kannel/status?secret=x&ref=1-abc&type=2")) as response:
        assert response.status == 403


async def test_an_unknown_number_name_is_404(make_sms_client: Factory) -> None:
    client = await make_sms_client(gateway())
    async with client.session.post(client.make_url("/channels/sms/nope/inbound")) as response:
        assert response.status == 404
