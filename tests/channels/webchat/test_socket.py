"""The visitor WebSocket: hello, visitor tokens, identities, messages, limits and bad frames."""

from __future__ import annotations

import uuid

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from sqlalchemy import select

from lines.channels.webchat import socket as webchat_socket
from lines.channels.webchat.visitor import identity_hash, sign_visitor, verify_visitor
from lines.console.keys import sessions_key
from lines.console.models import Contact, ContactIdentity, Conversation, Message
from tests.channels.webchat.conftest import (
    PAGE,
    Client,
    ClientFactory,
    connect,
    count,
    hello,
    nothing_more,
    receive,
    say,
)
from tests.conftest import Staff

SECRET = "test-secret-key-0123456789"


def cid() -> str:
    return str(uuid.uuid4())


async def test_hello_welcomes_a_new_visitor_with_a_signed_token(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    assert welcome["conversation"] is None and welcome["history"] == []
    visitor_id = verify_visitor(SECRET, "demo", welcome["visitor"])
    assert visitor_id is not None
    # The token is bound to its site: worthless on another.
    assert verify_visitor(SECRET, "shop", welcome["visitor"]) is None
    await ws.close()


async def test_a_returning_visitor_keeps_their_token(client: Client, staff: Staff) -> None:
    ws, first = await hello(client)
    await ws.close()
    ws, again = await hello(client, visitor=first["visitor"])
    assert again["visitor"] == first["visitor"]
    await ws.close()


@pytest.mark.parametrize(
    "token",
    ["garbage", "abcdefghijklmnopqrstuv.forged-mac", "", "a" * 500, "abcdefghijklmnopqrstuv." + "A" * 43],
)
async def test_a_forged_or_garbled_token_gets_a_new_visitor(client: Client, staff: Staff, token: str) -> None:
    ws, welcome = await hello(client, visitor=token)
    assert welcome["visitor"] != token
    assert verify_visitor(SECRET, "demo", welcome["visitor"]) is not None
    await ws.close()


async def test_a_token_for_another_visitor_cannot_read_their_history(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    assert (await say(ws, "my address is secret", cid()))["type"] == "ack"
    await ws.close()
    stranger, welcome = await hello(client, visitor=sign_visitor("wrong-key-guess", "demo", "abcdefghijklmnopqrstuv"))
    assert welcome["history"] == [] and welcome["conversation"] is None
    await stranger.close()


async def test_a_message_is_acked_and_stored_once_even_when_resent(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    client_id = cid()
    first = await say(ws, "Where is my order 1042?", client_id)
    assert first == {"type": "ack", "client_id": client_id, "id": first["id"], "conversation": first["conversation"]}
    again = await say(ws, "Where is my order 1042?", client_id)
    assert again["id"] == first["id"]
    await ws.close()
    # The widget resends its queue after a reconnect when the ack was lost: still one row.
    ws, _ = await hello(client, visitor=welcome["visitor"])
    assert (await say(ws, "Where is my order 1042?", client_id))["id"] == first["id"]
    assert await count(client, Message) == 1
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, first["id"])
    assert message is not None and message.text == "Where is my order 1042?"
    await ws.close()


async def test_the_same_client_id_from_two_visitors_is_two_messages(client: Client, staff: Staff) -> None:
    client_id = cid()
    one, _ = await hello(client)
    two, _ = await hello(client)
    a, b = await say(one, "hi", client_id), await say(two, "hi", client_id)
    assert a["type"] == b["type"] == "ack" and a["id"] != b["id"]
    await one.close()
    await two.close()


async def test_the_welcome_has_the_conversation_and_the_history(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    ack = await say(ws, "hello there", cid())
    await ws.close()
    ws, again = await hello(client, visitor=welcome["visitor"])
    assert again["conversation"] is not None
    assert [(m["id"], m["author"], m["text"]) for m in again["history"]] == [(ack["id"], "contact", "hello there")]
    await ws.close()


async def test_the_page_touchpoint_is_stored_on_the_conversation(client: Client, staff: Staff) -> None:
    page = {
        "url": "https://shop.example/tea?utm_source=news",
        "referrer": "https://search.example/q?tea",
        "utm": {"utm_source": "news", "utm_campaign": "spring", "other": "dropped"},
    }
    ws, _ = await hello(client, page=page)
    await say(ws, "hi", cid())
    async with client.app[sessions_key]() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None
    assert conversation.source == {
        "url": "https://shop.example/tea?utm_source=news",
        "referrer": "https://search.example/q?tea",
        "utm": {"utm_source": "news", "utm_campaign": "spring"},
    }
    await ws.close()


async def test_a_script_url_is_not_kept_as_the_touchpoint(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client, page={"url": "javascript:alert(1)", "referrer": "data:text/html,x", "utm": {}})
    await say(ws, "hi", cid())
    async with client.app[sessions_key]() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None and conversation.source["url"] == "" and conversation.source["referrer"] == ""
    await ws.close()


async def test_an_unknown_site_is_404_before_the_upgrade(client: Client) -> None:
    with pytest.raises(WSServerHandshakeError) as err:
        await connect(client, "nope")
    assert err.value.status == 404


async def test_a_foreign_origin_is_403_before_the_upgrade(client: Client) -> None:
    with pytest.raises(WSServerHandshakeError) as err:
        await connect(client, "shop", origin="https://evil.example")
    assert err.value.status == 403
    with pytest.raises(WSServerHandshakeError) as err:
        await connect(client, "shop")  # no Origin at all: a script, held to the same list
    assert err.value.status == 403


async def test_an_allowed_origin_connects(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client, site="shop", origin="https://shop.example")
    assert verify_visitor(SECRET, "shop", welcome["visitor"]) is not None
    await ws.close()


async def test_the_servers_own_origin_is_always_allowed(client: Client, staff: Staff) -> None:
    own = str(client.make_url("")).rstrip("/")
    ws, _ = await hello(client, site="shop", origin=own)
    await ws.close()


async def test_a_plain_get_on_the_socket_url_is_400(client: Client) -> None:
    response = await client.get("/webchat/demo/ws")
    assert response.status == 400


async def test_a_forged_identity_hash_is_rejected_and_stays_anonymous(client: Client, staff: Staff) -> None:
    identity = {"id": "42", "name": "Victim", "email": "victim@corp.example", "hash": "0" * 64}
    ws = await connect(client)
    await ws.send_json({"type": "hello", "visitor": None, "last_seen": None, "identity": identity, "page": {}})
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "identity_rejected"
    welcome = await receive(ws, "welcome")
    await say(ws, "show me the orders of user 42", cid())
    async with client.app[sessions_key]() as session:
        identities = (await session.scalars(select(ContactIdentity))).all()
        contact = await session.scalar(select(Contact))
    visitor_id = verify_visitor(SECRET, "demo", welcome["visitor"])
    assert [(i.external_id, i.verified) for i in identities] == [(f"visitor:{visitor_id}", False)]
    assert contact is not None and contact.email is None and "Victim" not in contact.name
    await ws.close()


async def test_a_forged_identity_never_sees_the_verified_customers_history(client: Client, staff: Staff) -> None:
    good = {"id": "42", "name": "Vera", "hash": identity_hash("site-secret", "42")}
    ws, _ = await hello(client, identity=good)
    await say(ws, "my card ends in 4242", cid())
    await ws.close()
    forged = {"id": "42", "hash": identity_hash("guess", "42")}
    ws, welcome = await hello(client, identity=forged)
    assert welcome["history"] == [] and welcome["conversation"] is None
    await ws.close()


async def test_a_valid_identity_hash_makes_a_verified_identity(client: Client, staff: Staff) -> None:
    secret_hash = identity_hash("site-secret", "42")
    identity = {"id": "42", "name": "Vera Customer", "email": "vera@example.com", "hash": secret_hash}
    ws, welcome = await hello(client, identity=identity)
    await say(ws, "hi, it is Vera", cid())
    await ws.close()
    async with client.app[sessions_key]() as session:
        identities = (await session.scalars(select(ContactIdentity))).all()
        contact = await session.scalar(select(Contact))
    assert [(i.external_id, i.verified) for i in identities] == [("user:42", True)]
    assert contact is not None and contact.name == "Vera Customer" and contact.email == "vera@example.com"
    # The same customer on another device (another visitor token) continues the same conversation.
    other, again = await hello(client, identity=identity)
    assert again["visitor"] != welcome["visitor"]
    assert [m["text"] for m in again["history"]] == ["hi, it is Vera"]
    await other.close()


async def test_an_identity_on_a_site_without_a_secret_is_rejected(client: Client, staff: Staff) -> None:
    ws = await connect(client, "shop", origin="https://shop.example")
    claim = {"id": "42", "hash": identity_hash("", "42")}
    await ws.send_json({"type": "hello", "visitor": None, "last_seen": None, "identity": claim, "page": {}})
    assert (await receive(ws))["code"] == "identity_rejected"
    await receive(ws, "welcome")
    await ws.close()


async def test_the_anonymous_sender_is_named_after_the_visitor(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    await say(ws, "hi", cid())
    visitor_id = verify_visitor(SECRET, "demo", welcome["visitor"])
    assert visitor_id is not None
    async with client.app[sessions_key]() as session:
        contact = await session.scalar(select(Contact))
    assert contact is not None and contact.name == f"Visitor {visitor_id[:6]}"
    await ws.close()


async def test_the_rate_limit_answers_rate_limited_and_stores_nothing(make_client: ClientFactory) -> None:
    client = await make_client(messages_per_minute=2)
    ws, _ = await hello(client)
    assert (await say(ws, "one", cid()))["type"] == "ack"
    assert (await say(ws, "two", cid()))["type"] == "ack"
    third = cid()
    refused = await say(ws, "three", third)
    assert refused["code"] == "rate_limited" and refused["client_id"] == third and refused["retry_after"] >= 1
    assert await count(client, Message) == 2
    # The connection survives; the widget resends later.
    await ws.send_json({"type": "typing"})
    await nothing_more(ws)
    await ws.close()


async def test_text_over_the_limit_is_refused(make_client: ClientFactory) -> None:
    client = await make_client(max_message_chars=10)
    ws, _ = await hello(client)
    client_id = cid()
    refused = await say(ws, "x" * 11, client_id)
    assert refused["code"] == "message_too_long" and refused["client_id"] == client_id
    assert (await say(ws, "x" * 10, cid()))["type"] == "ack"
    assert await count(client, Message) == 1
    await ws.close()


async def test_empty_text_is_refused(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    assert (await say(ws, "  \n\t ", cid()))["code"] == "empty_message"
    assert await count(client, Message) == 0
    await ws.close()


async def test_an_oversize_frame_closes_the_socket_with_1009(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    await ws.send_str('{"type":"message","text":"' + "x" * (webchat_socket.MAX_FRAME + 10) + '"}')
    msg = await ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == 1009
    assert await count(client, Message) == 0


async def test_the_frame_limit_leaves_room_for_the_longest_allowed_text(make_client: ClientFactory) -> None:
    client = await make_client(max_message_chars=15_000)
    ws, _ = await hello(client)
    text = "\u0001" * 15_000  # six bytes each once JSON-escaped: over the default 64 KiB
    assert (await say(ws, text, cid()))["type"] == "ack"
    await ws.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"no": "type"}', "bad_frame"),
        ('{"type": 5}', "bad_frame"),
        ('{"type": "subscribe", "room": "GENERAL"}', "unknown_type"),
        ('{"type": "hello", "visitor": {"$regex": ".*"}}', "bad_frame"),
        ('{"type": "hello", "last_seen": "7"}', "bad_frame"),
        ('{"type": "hello", "last_seen": true}', "bad_frame"),
        ('{"type": "hello", "page": "https://x"}', "bad_frame"),
        ('{"type": "hello", "page": {"utm": {"utm_source": 5}}}', "bad_frame"),
        ('{"type": "hello", "identity": {"id": {"$ne": null}, "hash": "x"}}', "bad_frame"),
        ('{"type": "message", "client_id": "abc", "text": "hi"}', "hello_required"),
    ],
)
async def test_bad_frames_before_hello_get_errors_and_the_socket_survives(
    client: Client, staff: Staff, raw: str, code: str
) -> None:
    ws = await connect(client)
    await ws.send_str(raw)
    error = await receive(ws)
    # A message before hello with a bad client id is a bad frame first; a good one needs hello.
    expected = "bad_frame" if code == "hello_required" else code
    assert error["type"] == "error" and error["code"] == expected and error["message"]
    await ws.send_json({"type": "message", "client_id": cid(), "text": "hi"})
    assert (await receive(ws))["code"] == "hello_required"
    await ws.send_json({"type": "hello", "visitor": None, "last_seen": None, "page": {}})
    assert (await receive(ws))["type"] == "welcome"
    assert (await say(ws, "still here", cid()))["type"] == "ack"
    await ws.close()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message", "client_id": "not-a-uuid", "text": "hi"},
        {"type": "message", "client_id": 12345, "text": "hi"},
        {"type": "message", "text": "hi"},
        {"type": "message", "client_id": "7f1d5a4e-2c3b-4d5e-8f90-a1b2c3d4e5f6", "text": ["hi"]},
        {"type": "message", "client_id": "7f1d5a4e-2c3b-4d5e-8f90-a1b2c3d4e5f6", "text": {"$gt": ""}},
        {"type": "hello", "visitor": None, "last_seen": None},
    ],
)
async def test_wrong_types_after_hello_get_bad_frame(client: Client, staff: Staff, frame: dict[str, object]) -> None:
    ws, _ = await hello(client)
    await ws.send_json(frame)
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "bad_frame"
    assert (await say(ws, "fine", cid()))["type"] == "ack"
    assert await count(client, Message) == 1
    await ws.close()


async def test_a_binary_frame_is_a_bad_frame(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    await ws.send_bytes(b'{"type": "typing"}')
    assert (await receive(ws))["code"] == "bad_frame"
    assert (await say(ws, "fine", cid()))["type"] == "ack"
    await ws.close()


async def test_new_visitors_per_address_are_limited(make_client: ClientFactory) -> None:
    client = await make_client(new_conversations_per_ip_per_hour=2)
    first, welcome = await hello(client)
    second, _ = await hello(client)
    ws = await connect(client)
    await ws.send_json({"type": "hello", "visitor": None, "last_seen": None, "page": {}})
    error = await receive(ws)
    assert error["code"] == "too_many_visitors" and error["retry_after"] >= 1
    msg = await ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    # A returning visitor is not a new one.
    again, back = await hello(client, visitor=welcome["visitor"])
    assert back["visitor"] == welcome["visitor"]
    for sock in (first, second, again):
        await sock.close()


async def test_the_per_address_limit_can_be_switched_off(make_client: ClientFactory) -> None:
    client = await make_client(new_conversations_per_ip_per_hour=0)
    for _ in range(5):
        ws, _ = await hello(client)
        await ws.close()


async def test_a_socket_without_hello_is_closed_after_the_timeout(
    client: Client, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webchat_socket, "HELLO_TIMEOUT", 0.2)
    ws = await connect(client)
    msg = await ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == 1008


async def test_a_site_that_requires_identity_refuses_an_anonymous_visitor(make_client: ClientFactory) -> None:
    client = await make_client(identity_required=True)
    ws = await connect(client)
    await ws.send_json({"type": "hello", "visitor": None, "last_seen": None, "page": PAGE})
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "identity_required"
    closing = await ws.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)


async def test_a_site_that_requires_identity_refuses_a_forged_one(make_client: ClientFactory) -> None:
    client = await make_client(identity_required=True)
    ws = await connect(client)
    forged = {"id": "42", "hash": identity_hash("guess", "42")}
    await ws.send_json({"type": "hello", "visitor": None, "last_seen": None, "identity": forged, "page": PAGE})
    codes = [(await receive(ws))["code"], (await receive(ws))["code"]]
    assert codes == ["identity_rejected", "identity_required"]


async def test_a_site_that_requires_identity_welcomes_a_verified_customer(make_client: ClientFactory) -> None:
    client = await make_client(identity_required=True)
    good = {"id": "42", "name": "Vera", "hash": identity_hash("site-secret", "42")}
    _, welcome = await hello(client, identity=good)
    assert welcome["visitor"]
