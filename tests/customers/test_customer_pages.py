"""The customers pages and the API they sit on: the customers list (search, filters, keyset paging),
dismissed duplicates, my teams' follow-ups, and what each page shows to whom."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from lines.console.customers.models import CannedResponse, FollowUp
from lines.console.keys import sessions_key
from lines.console.models import Contact, Conversation, utcnow
from tests.api.helpers import Client, auth_headers, cookie_session, error_of
from tests.conftest import Staff
from tests.customers.helpers import customer_says


async def _in_team(client: Client, conversation_id: int, team_id: int | None) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(team_id=team_id))


async def _tag(client: Client, contact_id: int, *tags: str) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Contact).where(Contact.id == contact_id).values(tags=list(tags)))


async def _ids(client: Client, headers: dict[str, str], **params: str) -> list[int]:
    response = await client.get("/api/v1/customers", params=params, headers=headers)
    assert response.status == 200, await response.text()
    return [c["id"] for c in (await response.json())["customers"]]


async def test_the_customers_list_searches_name_email_phone_and_tag(client: Client, staff: Staff) -> None:
    vera = await customer_says(client, "hi", name="Vera Orlova", email="vera@example.com", phone="+79161234567")
    oleg = await customer_says(client, "hi", name="Oleg")
    await _tag(client, oleg.contact_id, "wholesale")
    headers = await auth_headers(client, "admin")
    assert await _ids(client, headers, q="orlova") == [vera.contact_id]
    assert await _ids(client, headers, q="VERA@example") == [vera.contact_id]
    assert await _ids(client, headers, q="916 123") == [vera.contact_id]
    assert await _ids(client, headers, q="wholesale") == [oleg.contact_id]
    assert await _ids(client, headers) == [oleg.contact_id, vera.contact_id]


async def test_the_customers_list_filters_by_channel_tag_and_last_contact(client: Client, staff: Staff) -> None:
    web = await customer_says(client, "hi", channel="webchat", name="Web")
    old = await customer_says(client, "hi", name="Old")
    await _tag(client, old.contact_id, "vip", "b2b")
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == old.conversation_id)
            .values(last_message_at=utcnow() - timedelta(days=100))
        )
    headers = await auth_headers(client, "admin")
    assert await _ids(client, headers, channel="webchat") == [web.contact_id]
    assert await _ids(client, headers, tag="vip") == [old.contact_id]
    assert await _ids(client, headers, contacted="7d") == [web.contact_id]
    assert await _ids(client, headers, contacted="older") == [old.contact_id]


async def test_the_customers_list_pages_by_id_without_repeats(client: Client, staff: Staff) -> None:
    made = [(await customer_says(client, "hi", name=f"C{n}")).contact_id for n in range(5)]
    headers = await auth_headers(client, "admin")
    seen: list[int] = []
    after: int | None = None
    while True:
        params = {"limit": "2", **({"after": str(after)} if after else {})}
        body = await (await client.get("/api/v1/customers", params=params, headers=headers)).json()
        seen += [c["id"] for c in body["customers"]]
        after = body["next_after"]
        if after is None:
            break
    assert seen == sorted(made, reverse=True)


async def test_an_operator_lists_only_their_teams_customers(client: Client, staff: Staff) -> None:
    mine = await customer_says(client, "hi", name="Support customer")
    theirs = await customer_says(client, "hi", name="Sales customer")
    await _in_team(client, mine.conversation_id, staff.support)
    await _in_team(client, theirs.conversation_id, staff.sales)
    assert await _ids(client, await auth_headers(client, "anna")) == [mine.contact_id]


async def test_the_customers_page_never_shows_another_teams_customer(client: Client, staff: Staff) -> None:
    mine = await customer_says(client, "hi", name="Support customer")
    theirs = await customer_says(client, "hi", name="Sales customer")
    await _in_team(client, mine.conversation_id, staff.support)
    await _in_team(client, theirs.conversation_id, staff.sales)
    cookie, _ = await cookie_session(client, staff.anna)
    html = await (await client.get("/contacts", headers=cookie)).text()
    assert "Support customer" in html and "Sales customer" not in html
    assert (await client.get(f"/contacts/{theirs.contact_id}", headers=cookie)).status == 404
    assert "Sales customer" not in await (await client.get("/contacts?q=Sales", headers=cookie)).text()
    page = await client.get(f"/contacts/{mine.contact_id}", headers=cookie)
    assert page.status == 200 and 'data-testid="contact-edit"' in await page.text()


async def test_the_duplicates_page_hides_pairs_with_another_teams_customer(client: Client, staff: Staff) -> None:
    one = await customer_says(client, "hi", name="Vera", email="vera@example.com")
    two = await customer_says(client, "hi", name="Vera O", email="vera@example.com")
    await _in_team(client, one.conversation_id, staff.support)
    await _in_team(client, two.conversation_id, staff.sales)
    anna, _ = await cookie_session(client, staff.anna)
    html = await (await client.get("/contacts/duplicates", headers=anna)).text()
    assert 'data-testid="duplicate-pair"' not in html
    lead, _ = await cookie_session(client, staff.lead)
    html = await (await client.get("/contacts/duplicates", headers=lead)).text()
    assert html.count('data-testid="duplicate-pair"') == 1 and "same email" in html


async def test_a_dismissed_pair_leaves_the_queue_and_the_card_for_good(client: Client, staff: Staff) -> None:
    one = await customer_says(client, "hi", name="Vera", email="vera@example.com")
    two = await customer_says(client, "hi", name="Vera O", email="vera@example.com")
    headers = await auth_headers(client, "admin")
    assert len((await (await client.get("/api/v1/contacts/duplicates", headers=headers)).json())["duplicates"]) == 1
    response = await client.post(
        "/api/v1/contacts/duplicates/dismissals",
        json={"contact_ids": [two.contact_id, one.contact_id]},
        headers=headers,
    )
    assert response.status == 200
    assert (await response.json())["contact_ids"] == [one.contact_id, two.contact_id]
    assert (await (await client.get("/api/v1/contacts/duplicates", headers=headers)).json())["duplicates"] == []
    card = await (await client.get(f"/api/v1/contacts/{one.contact_id}", headers=headers)).json()
    assert card["duplicates"] == []
    again = await client.post(
        "/api/v1/contacts/duplicates/dismissals",
        json={"contact_ids": [one.contact_id, two.contact_id]},
        headers=headers,
    )
    assert again.status == 200


async def test_dismissing_needs_two_visible_contacts(client: Client, staff: Staff) -> None:
    one = await customer_says(client, "hi", name="Vera")
    theirs = await customer_says(client, "hi", name="Vera")
    await _in_team(client, one.conversation_id, staff.support)
    await _in_team(client, theirs.conversation_id, staff.sales)
    anna = await auth_headers(client, "anna")
    url = "/api/v1/contacts/duplicates/dismissals"
    response = await client.post(url, json={"contact_ids": [one.contact_id, theirs.contact_id]}, headers=anna)
    assert await error_of(response) == (404, "not_found")
    response = await client.post(url, json={"contact_ids": [one.contact_id, one.contact_id]}, headers=anna)
    assert await error_of(response) == (422, "validation_error")
    response = await client.post(url, json={"contact_ids": [one.contact_id]}, headers=anna)
    assert await error_of(response) == (422, "validation_error")


async def test_team_follow_ups_are_my_teammates_on_my_teams_conversations(client: Client, staff: Staff) -> None:
    support = await customer_says(client, "hi")
    sales = await customer_says(client, "hi")
    await _in_team(client, support.conversation_id, staff.support)
    await _in_team(client, sales.conversation_id, staff.sales)
    due = utcnow() + timedelta(days=1)
    async with client.app[sessions_key]() as session, session.begin():
        session.add_all(
            [
                FollowUp(conversation_id=support.conversation_id, operator_id=staff.lead, due_at=due, note="lead's"),
                FollowUp(conversation_id=sales.conversation_id, operator_id=staff.boris, due_at=due, note="boris'"),
                FollowUp(conversation_id=support.conversation_id, operator_id=staff.anna, due_at=due, note="mine"),
            ]
        )
    response = await client.get("/api/v1/follow-ups/team", headers=await auth_headers(client, "anna"))
    assert [f["note"] for f in (await response.json())["follow_ups"]] == ["lead's"]
    cookie, _ = await cookie_session(client, staff.anna)
    html = await (await client.get("/followups", headers=cookie)).text()
    assert "lead&#39;s" in html and "mine" in html and "boris" not in html


async def test_my_follow_ups_page_puts_the_overdue_first(client: Client, staff: Staff) -> None:
    talk = await customer_says(client, "hi")
    now = utcnow()
    async with client.app[sessions_key]() as session, session.begin():
        session.add_all(
            [
                FollowUp(
                    conversation_id=talk.conversation_id,
                    operator_id=staff.anna,
                    due_at=now + timedelta(days=2),
                    note="later",
                ),
                FollowUp(
                    conversation_id=talk.conversation_id,
                    operator_id=staff.anna,
                    due_at=now - timedelta(hours=1),
                    note="late",
                ),
            ]
        )
    cookie, _ = await cookie_session(client, staff.anna)
    html = await (await client.get("/followups", headers=cookie)).text()
    assert html.index("late") < html.index("later")
    assert html.count('data-testid="followup-overdue"') == 1


async def test_the_canned_page_lists_mine_and_my_teams_and_offers_team_scope_to_leads(
    client: Client, staff: Staff
) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        session.add_all(
            [
                CannedResponse(shortcut="mine", text="Hi {{contact.name}}", owner_id=staff.anna),
                CannedResponse(shortcut="team", text="Support hi", team_id=staff.support),
                CannedResponse(shortcut="sales", text="Sales hi", team_id=staff.sales),
            ]
        )
    anna, _ = await cookie_session(client, staff.anna)
    html = await (await client.get("/canned", headers=anna)).text()
    assert "/mine" in html and "/team" in html and "/sales" not in html
    assert html.count('data-testid="canned-delete"') == 1  # only her own
    assert "Team Support" not in html
    lead, _ = await cookie_session(client, staff.lead)
    html = await (await client.get("/canned", headers=lead)).text()
    assert "Team Support" in html and "Team Sales" in html
