"""GET /api/v1/search on both stores: word forms, contacts, numbers, access, pages, bad queries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from lines.console.api.search import SearchOut
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Contact, Conversation
from tests.api.helpers import Client, auth_headers, error_of, inbound_email, open_conversation
from tests.conftest import Staff


async def search(client: Client, q: str, who: str = "anna", **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/search", params={"q": q, **params}, headers=await auth_headers(client, who))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    SearchOut.model_validate(body)
    return body


def message_texts(body: dict[str, Any]) -> list[str]:
    return [m["snippet"] for m in body["messages"]]


async def test_a_russian_word_finds_its_other_forms(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, text="Когда будет доставка заказа?")
    await open_conversation(client, staff.support, text="Спасибо, всё пришло")
    body = await search(client, "доставки")
    assert [(m["conversation_id"], m["snippet"]) for m in body["messages"]] == [
        (conversation, "Когда будет <mark>доставка</mark> заказа?")
    ]


async def test_an_english_word_finds_its_other_forms(client: Client, staff: Staff) -> None:
    await open_conversation(client, staff.support, text="Two deliveries were late")
    assert message_texts(await search(client, "delivery")) == ["Two <mark>deliveries</mark> were late"]


async def test_every_word_must_match(client: Client, staff: Staff) -> None:
    await open_conversation(client, staff.support, text="доставка заказа")
    await open_conversation(client, staff.support, text="доставка цветов")
    assert message_texts(await search(client, "доставку цветов")) == ["<mark>доставка</mark> <mark>цветов</mark>"]


async def test_the_result_opens_the_conversation_at_the_message(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, text="где посылка")
    [hit] = (await search(client, "посылки"))["messages"]
    assert hit["url"] == f"/conversations/{conversation}#message-{hit['message_id']}"


async def test_html_in_a_message_comes_back_escaped(client: Client, staff: Staff) -> None:
    await open_conversation(client, staff.support, text='<img src=x onerror="alert(1)"> доставка')
    [snippet] = message_texts(await search(client, "доставка"))
    assert snippet == "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; <mark>доставка</mark>"


async def test_a_contact_is_found_by_name_email_and_phone(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, name="Вероника Смирнова")
    async with client.app[sessions_key]() as session, session.begin():
        contact_id = (await session.get(Conversation, conversation)).contact_id  # type: ignore[union-attr]
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        contact.email, contact.phone = "nika@example.org", "+79161234567"
    for q in ("вероники", "Nika@Example", "8 (916) 123-45-67", "+79161234567"):
        hits = (await search(client, q))["conversations"]
        assert [(h["conversation_id"], h["match"]) for h in hits] == [(conversation, "contact")], q


async def test_a_subject_is_found_by_another_word_form(client: Client, staff: Staff) -> None:
    result = await client.app[inbox_key].ingest(inbound_email("текст", subject="Возврат платежей"))
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).values(team_id=staff.support))
    hits = (await search(client, "платёж"))["conversations"]
    assert [(h["conversation_id"], h["match"], h["snippet"]) for h in hits] == [
        (result.conversation_id, "subject", "Возврат <mark>платежей</mark>")
    ]


@pytest.mark.parametrize("q", ["#{id}", "{id}"])
async def test_a_conversation_is_found_by_its_number(client: Client, staff: Staff, q: str) -> None:
    conversation = await open_conversation(client, staff.support)
    hits = (await search(client, q.format(id=conversation)))["conversations"]
    assert [(h["conversation_id"], h["match"]) for h in hits] == [(conversation, "number")]


async def test_another_teams_conversation_is_never_returned(client: Client, staff: Staff) -> None:
    """Anna is in support: a sales conversation stays hidden by text, subject, contact and number."""
    sales = await open_conversation(client, staff.sales, text="доставка для отдела продаж", name="Салим")
    mine = await open_conversation(client, staff.support, text="доставка для поддержки", name="Салим")
    for q in ("доставка", "салим", f"#{sales}"):
        body = await search(client, q)
        seen = {h["conversation_id"] for h in body["messages"] + body["conversations"]}
        assert sales not in seen, q
    assert {m["conversation_id"] for m in (await search(client, "доставка"))["messages"]} == {mine}
    assert {m["conversation_id"] for m in (await search(client, "доставка", "boris"))["messages"]} == {sales}


async def test_messages_come_in_pages_newest_first(client: Client, staff: Staff) -> None:
    for i in range(5):
        await open_conversation(client, staff.support, text=f"заказ номер {i}")
    first = await search(client, "заказы", limit=2)
    second = await search(client, "заказы", limit=2, before=first["next_before"])
    third = await search(client, "заказы", limit=2, before=second["next_before"])
    texts = [m["snippet"] for page in (first, second, third) for m in page["messages"]]
    assert texts == [f"<mark>заказ</mark> номер {i}" for i in (4, 3, 2, 1, 0)]
    assert third["next_before"] is None
    assert second["conversations"] == []


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "q: type something to search for"),
        ("   ", "q: type something to search for"),
        ("я" * 201, "q: at most 200 characters"),
        ("!?-*", "q: no letters or digits to search for"),
    ],
)
async def test_a_query_that_cannot_be_searched_is_422(client: Client, staff: Staff, q: str, message: str) -> None:
    response = await client.get("/api/v1/search", params={"q": q}, headers=await auth_headers(client, "anna"))
    assert await error_of(response) == (422, "validation_error")
    response = await client.get("/api/v1/search", params={"q": q}, headers=await auth_headers(client, "anna"))
    assert (await response.json())["error"]["message"] == message


async def test_a_missing_query_is_422(client: Client, staff: Staff) -> None:
    response = await client.get("/api/v1/search", headers=await auth_headers(client, "anna"))
    assert await error_of(response) == (422, "validation_error")


async def test_fts_syntax_in_a_query_is_only_words(client: Client, staff: Staff) -> None:
    await open_conversation(client, staff.support, text="доставка NEAR заказ")
    assert message_texts(await search(client, 'доставка" * NEAR(')) == ["<mark>доставка</mark> <mark>NEAR</mark> заказ"]


async def test_a_system_line_is_not_a_hit(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, text="hello")
    response = await client.post(
        f"/api/v1/conversations/{conversation}/priority",
        json={"priority": "high"},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 200
    assert (await search(client, "priority"))["messages"] == []


async def test_a_reply_and_a_note_are_found_at_once(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "anna")
    for text, private in (("Курьер приедет завтра", False), ("Клиенту звонили дважды", True)):
        response = await client.post(
            f"/api/v1/conversations/{conversation}/messages", json={"text": text, "private": private}, headers=headers
        )
        assert response.status in (200, 201), await response.text()
    assert message_texts(await search(client, "курьера")) == ["<mark>Курьер</mark> приедет завтра"]
    assert message_texts(await search(client, "звонил")) == ["Клиенту <mark>звонили</mark> дважды"]


async def test_a_contact_edited_in_the_card_is_found_by_the_new_name(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, name="Visitor a4m")
    async with client.app[sessions_key]() as session:
        contact_id = (await session.get(Conversation, conversation)).contact_id  # type: ignore[union-attr]
    response = await client.patch(
        f"/api/v1/contacts/{contact_id}", json={"name": "Тамара Ким"}, headers=await auth_headers(client, "anna")
    )
    assert response.status == 200, await response.text()
    assert [h["conversation_id"] for h in (await search(client, "тамары"))["conversations"]] == [conversation]
    assert (await search(client, "a4m"))["conversations"] == []
