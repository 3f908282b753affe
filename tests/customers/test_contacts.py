"""The customer card: search, duplicates, merge and unmerge, notes, tags, typed attributes."""

from __future__ import annotations

from sqlalchemy import func, select, update

from lines.console.keys import sessions_key
from lines.console.models import ContactIdentity, Conversation, Message
from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import Staff
from tests.customers.helpers import customer_says


async def _put_in_team(client: Client, conversation_id: int, team_id: int | None) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(team_id=team_id))


async def _inventory(client: Client, contact_id: int) -> tuple[set[int], set[int], int]:
    """(identity ids, conversation ids, message count) of a contact."""
    async with client.app[sessions_key]() as session:
        identities = set(
            (await session.scalars(select(ContactIdentity.id).where(ContactIdentity.contact_id == contact_id))).all()
        )
        conversations = set(
            (await session.scalars(select(Conversation.id).where(Conversation.contact_id == contact_id))).all()
        )
        messages = await session.scalar(
            select(func.count()).select_from(Message).where(Message.conversation_id.in_(conversations))
        )
    return identities, conversations, int(messages or 0)


async def test_the_card_shows_identities_and_touchpoints(client: Client, staff: Staff) -> None:
    first = await customer_says(
        client, "hi", channel="webchat", source={"url": "https://shop.example/pricing?x=1", "utm": {}}
    )
    headers = await auth_headers(client, "admin")
    response = await client.get(f"/api/v1/contacts/{first.contact_id}", headers=headers)
    assert response.status == 200
    card = await response.json()
    assert [i["channel"] for i in card["identities"]] == ["webchat"]
    assert card["touchpoints"][0]["touchpoint"] == "shop.example/pricing"


async def test_merge_then_unmerge_keeps_every_message_and_identity(client: Client, staff: Staff) -> None:
    email = await customer_says(client, "by mail", channel="email", name="Vera Orlova", email="vera@example.com")
    await customer_says(client, "second mail", channel="email", sender=None, name="Vera Orlova")
    telegram = await customer_says(client, "by telegram", channel="telegram", name="Vera", phone="+79001234567")
    await customer_says(client, "more", channel="telegram", sender=None)
    before_kept = await _inventory(client, email.contact_id)
    before_other = await _inventory(client, telegram.contact_id)
    headers = await auth_headers(client, "admin")

    merged = await client.post(
        f"/api/v1/contacts/{email.contact_id}/merge", json={"other_id": telegram.contact_id}, headers=headers
    )
    assert merged.status == 200, await merged.text()
    body = await merged.json()
    assert body["contact"]["phone"] == "+79001234567"
    after = await _inventory(client, email.contact_id)
    assert after[0] == before_kept[0] | before_other[0]
    assert after[1] == before_kept[1] | before_other[1]
    assert after[2] == before_kept[2] + before_other[2]
    gone = await client.get(f"/api/v1/contacts/{telegram.contact_id}", headers=headers)
    assert gone.status == 404

    undone = await client.post(
        f"/api/v1/contacts/{email.contact_id}/unmerge", json={"merge_id": body["merge"]["id"]}, headers=headers
    )
    assert undone.status == 200, await undone.text()
    assert await _inventory(client, email.contact_id) == before_kept
    assert await _inventory(client, telegram.contact_id) == before_other
    card = await (await client.get(f"/api/v1/contacts/{email.contact_id}", headers=headers)).json()
    assert card["phone"] is None and card["merges"] == []


async def test_undoing_a_merge_twice_is_refused(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a")
    b = await customer_says(client, "b")
    headers = await auth_headers(client, "admin")
    merged = await (
        await client.post(f"/api/v1/contacts/{a.contact_id}/merge", json={"other_id": b.contact_id}, headers=headers)
    ).json()
    url = f"/api/v1/contacts/{a.contact_id}/unmerge"
    assert (await client.post(url, json={"merge_id": merged["merge"]["id"]}, headers=headers)).status == 200
    again = await client.post(url, json={"merge_id": merged["merge"]["id"]}, headers=headers)
    assert await error_of(again) == (409, "already_undone")


async def test_a_contact_cannot_be_merged_with_itself(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a")
    headers = await auth_headers(client, "admin")
    response = await client.post(
        f"/api/v1/contacts/{a.contact_id}/merge", json={"other_id": a.contact_id}, headers=headers
    )
    assert await error_of(response) == (422, "same_contact")


async def test_an_operator_cannot_merge_in_another_teams_customer(client: Client, staff: Staff) -> None:
    mine = await customer_says(client, "support question")
    theirs = await customer_says(client, "sales question")
    await _put_in_team(client, mine.conversation_id, staff.support)
    await _put_in_team(client, theirs.conversation_id, staff.sales)
    headers = await auth_headers(client, "anna")
    response = await client.post(
        f"/api/v1/contacts/{mine.contact_id}/merge", json={"other_id": theirs.contact_id}, headers=headers
    )
    assert await error_of(response) == (404, "not_found")
    assert await _inventory(client, theirs.contact_id) == (
        {*(await _inventory(client, theirs.contact_id))[0]},
        {theirs.conversation_id},
        1,
    )


async def test_a_contact_with_a_hidden_conversation_cannot_be_merged_by_an_operator(
    client: Client, staff: Staff
) -> None:
    mine = await customer_says(client, "support question")
    other = await customer_says(client, "first", sender="shared-person")
    await _put_in_team(client, mine.conversation_id, staff.support)
    await _put_in_team(client, other.conversation_id, staff.support)
    hidden = await customer_says(client, "second", channel="email", sender="shared-person")
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == hidden.conversation_id)
            .values(contact_id=other.contact_id, team_id=staff.sales)
        )
    headers = await auth_headers(client, "anna")
    response = await client.post(
        f"/api/v1/contacts/{mine.contact_id}/merge", json={"other_id": other.contact_id}, headers=headers
    )
    assert await error_of(response) == (403, "forbidden")


async def test_email_then_telegram_with_the_same_phone_are_offered_as_one(client: Client, staff: Staff) -> None:
    by_mail = await customer_says(client, "mail", channel="email", name="Vera Orlova", phone="+79001234567")
    by_telegram = await customer_says(client, "tg", channel="telegram", name="Vera", phone="+79001234567")
    headers = await auth_headers(client, "admin")
    response = await client.get("/api/v1/contacts/duplicates", headers=headers)
    pairs = (await response.json())["duplicates"]
    offered = {tuple(c["id"] for c in p["contacts"]) for p in pairs}
    # Either the inbox already linked them by phone, or the duplicates list offers the pair.
    assert by_mail.contact_id == by_telegram.contact_id or (by_mail.contact_id, by_telegram.contact_id) in offered


async def test_the_same_email_in_any_case_is_a_duplicate(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a", channel="email", email="Vera@Example.com")
    b = await customer_says(client, "b", channel="webchat", email="vera@example.com")
    headers = await auth_headers(client, "admin")
    pairs = (await (await client.get("/api/v1/contacts/duplicates", headers=headers)).json())["duplicates"]
    assert any(
        {c["id"] for c in p["contacts"]} == {a.contact_id, b.contact_id} and "email" in p["reasons"] for p in pairs
    )


async def test_close_names_sharing_an_identity_are_duplicates(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a", channel="telegram", sender="vera_o", name="Vera Orlova")
    b = await customer_says(client, "b", channel="webchat", sender="vera_o", name="Orlova Vera")
    c = await customer_says(client, "c", channel="sms", sender="vera_o", name="Boris")
    headers = await auth_headers(client, "admin")
    pairs = (await (await client.get("/api/v1/contacts/duplicates", headers=headers)).json())["duplicates"]
    found = [{x["id"] for x in p["contacts"]} for p in pairs]
    assert {a.contact_id, b.contact_id} in found
    assert all(c.contact_id not in pair for pair in found)


async def test_search_finds_by_name_email_and_phone(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a", name="Vera Orlova", email="vera@example.com", phone="+79001234567")
    await customer_says(client, "b", name="Boris")
    headers = await auth_headers(client, "admin")
    for q in ("orlova", "VERA@EXAMPLE", "9001234567"):
        found = (await (await client.get("/api/v1/contacts", params={"q": q}, headers=headers)).json())["contacts"]
        assert [c["id"] for c in found] == [a.contact_id], q


async def test_search_wildcards_are_literal(client: Client, staff: Staff) -> None:
    await customer_says(client, "a", name="Vera")
    headers = await auth_headers(client, "admin")
    found = (await (await client.get("/api/v1/contacts", params={"q": "%"}, headers=headers)).json())["contacts"]
    assert found == []


async def test_an_operator_does_not_find_another_teams_customer(client: Client, staff: Staff) -> None:
    theirs = await customer_says(client, "sales", name="Secret Buyer")
    await _put_in_team(client, theirs.conversation_id, staff.sales)
    headers = await auth_headers(client, "anna")
    found = (await (await client.get("/api/v1/contacts", params={"q": "secret"}, headers=headers)).json())["contacts"]
    assert found == []
    assert (await client.get(f"/api/v1/contacts/{theirs.contact_id}", headers=headers)).status == 404


async def test_tags_notes_and_typed_attributes(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a")
    admin = await auth_headers(client, "admin")
    for definition in (
        {"key": "plan", "type": "choice", "choices": ["free", "pro"]},
        {"key": "seats", "type": "number"},
        {"key": "renewal", "type": "date"},
    ):
        assert (await client.post("/api/v1/contact-attributes", json=definition, headers=admin)).status == 201
    url = f"/api/v1/contacts/{a.contact_id}"
    ok = await client.patch(
        url,
        json={"tags": ["VIP", " vip ", "b2b"], "attributes": {"plan": "pro", "seats": 12, "renewal": "2027-01-31"}},
        headers=admin,
    )
    assert ok.status == 200, await ok.text()
    card = await ok.json()
    assert card["tags"] == ["vip", "b2b"]
    assert card["attributes"] == {"plan": "pro", "seats": 12, "renewal": "2027-01-31"}
    for bad in ({"plan": "gold"}, {"seats": "12"}, {"renewal": "31.01.2027"}, {"unknown": 1}):
        response = await client.patch(url, json={"attributes": bad}, headers=admin)
        assert (await error_of(response))[0] == 422, bad
    note = await client.post(f"{url}/notes", json={"text": "prefers email"}, headers=admin)
    assert note.status == 201
    card = await (await client.get(url, headers=admin)).json()
    assert [n["text"] for n in card["notes"]] == ["prefers email"]


async def test_a_phone_is_stored_as_e164_and_nonsense_is_refused(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a")
    admin = await auth_headers(client, "admin")
    url = f"/api/v1/contacts/{a.contact_id}"
    assert (await (await client.patch(url, json={"phone": "+7 900 123-45-67"}, headers=admin)).json())["phone"] == (
        "+79001234567"
    )
    assert await error_of(await client.patch(url, json={"phone": "call me"}, headers=admin)) == (
        422,
        "validation_error",
    )


async def test_only_admins_define_attributes(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "lead")
    response = await client.post("/api/v1/contact-attributes", json={"key": "x", "type": "text"}, headers=headers)
    assert await error_of(response) == (403, "forbidden")


async def test_the_card_offers_its_own_duplicates(client: Client, staff: Staff) -> None:
    a = await customer_says(client, "a", channel="email", name="Vera", email="vera@example.com")
    b = await customer_says(client, "b", channel="telegram", name="V", email="VERA@example.com", phone="+79001234567")
    await customer_says(client, "c", channel="sms", name="Boris", phone="+79009999999")
    headers = await auth_headers(client, "admin")
    card = await (await client.get(f"/api/v1/contacts/{a.contact_id}", headers=headers)).json()
    assert [(d["contact"]["id"], d["reasons"]) for d in card["duplicates"]] == [(b.contact_id, ["email"])]
