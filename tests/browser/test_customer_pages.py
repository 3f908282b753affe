"""The customers pages in a real browser: the duplicates queue, a follow-up made from a conversation,
the customer's fields edited on the card, canned responses made on /canned, and field errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select, update

from lines.console.customers.feature import follow_ups_key
from lines.console.customers.models import CannedResponse, ContactMerge, FollowUp
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Contact, Conversation, utcnow
from tests.api.helpers import inbound
from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser


async def _customer(server: LiveServer, text: str, sender: str, name: str, **contact: object) -> tuple[int, int]:
    """(conversation id, contact id) of a new support-team conversation."""
    assert server.app is not None and server.staff is not None
    result = await server.app[inbox_key].ingest(inbound(text, sender, name))
    async with server.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation).where(Conversation.id == result.conversation_id).values(team_id=server.staff.support)
        )
        if contact:
            await session.execute(update(Contact).where(Contact.id == result.contact_id).values(**contact))
    return result.conversation_id, result.contact_id


async def test_a_pair_is_merged_from_the_queue_and_a_dismissed_pair_stays_gone(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None
    _, vera = await _customer(server, "hi", "vera-1", "Vera Orlova", email="vera@example.com")
    _, vera_again = await _customer(server, "hello", "vera-2", "Vera", email="vera@example.com")
    _, oleg = await _customer(server, "hi", "oleg-1", "Oleg", phone="+79161234567")
    _, olga = await _customer(server, "hi", "olga-1", "Olga", phone="+79161234567")
    page = await sign_in(await new_context(browser), server, "lead", "/contacts/duplicates")
    pairs = page.get_by_test_id("duplicate-pair")
    await expect(pairs).to_have_count(2)
    merged = page.locator(f"[data-testid='duplicate-pair'][data-kept-id='{vera}']")
    await expect(merged.get_by_test_id("duplicate-evidence")).to_have_text("same email")
    await merged.get_by_test_id("duplicate-merge").click()
    await expect(merged).to_have_count(0)
    dismissed = page.locator(f"[data-testid='duplicate-pair'][data-kept-id='{oleg}']")
    await expect(dismissed.get_by_test_id("duplicate-evidence")).to_have_text("same phone")
    await dismissed.get_by_test_id("duplicate-dismiss").click()
    await expect(dismissed).to_have_count(0)

    await page.reload()
    await expect(page.get_by_test_id("duplicates-empty")).to_be_visible()
    await expect(pairs).to_have_count(0)
    async with server.app[sessions_key]() as session:
        merge = await session.scalar(select(ContactMerge).where(ContactMerge.kept_id == vera))
        assert merge is not None and merge.merged_id == vera_again
        assert await session.scalar(select(ContactMerge).where(ContactMerge.kept_id.in_([oleg, olga]))) is None


async def test_a_follow_up_made_from_a_conversation_fires(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None
    conversation_id, _ = await _customer(server, "call me back", "pavel-1", "Pavel")
    page = await sign_in(await new_context(browser), server, "anna", f"/conversations/{conversation_id}")
    form = page.get_by_test_id("followup-form")
    await form.get_by_test_id("followup-days").select_option("3")
    await form.get_by_test_id("followup-note-input").fill("Did the courier come?")
    await form.get_by_test_id("followup-add").click()
    await expect(form.get_by_test_id("followup-added")).to_be_visible()
    async with server.app[sessions_key]() as session, session.begin():
        item = await session.scalar(select(FollowUp).where(FollowUp.conversation_id == conversation_id))
        assert item is not None and item.note == "Did the courier come?"
        assert timedelta(days=2.9) < item.due_at - utcnow() <= timedelta(days=3)
        item.due_at = utcnow() - timedelta(seconds=1)  # three days pass

    assert await server.app[follow_ups_key].fire_due() == [item.id]
    notice = page.get_by_test_id("notice")
    await expect(notice).to_have_attribute("data-kind", "follow_up.due")
    await expect(notice.get_by_test_id("notice-detail")).to_have_text("Did the courier come?")

    await page.goto(f"{server.url}/followups")
    row = page.get_by_test_id("followups-mine").get_by_test_id("followup")
    await expect(row.get_by_test_id("followup-overdue")).to_be_visible()
    await row.get_by_test_id("followup-done").click()
    await expect(row).to_have_count(0)


async def test_a_name_edited_on_the_card_shows_in_the_next_canned_reply(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None and server.staff is not None
    conversation_id, _ = await _customer(server, "where is my parcel?", "vera-1", "vera")
    async with server.app[sessions_key]() as session, session.begin():
        session.add(CannedResponse(shortcut="thanks", text="Thank you, {{contact.name}}!", owner_id=server.staff.anna))
    page = await sign_in(await new_context(browser), server, "anna", f"/conversations/{conversation_id}")
    card = page.get_by_test_id("customer-360")
    await card.get_by_test_id("c360-edit").locator("summary").click()
    await card.get_by_test_id("contact-name-input").fill("Vera Orlova")
    await card.get_by_test_id("contact-save").click()
    await expect(card.get_by_test_id("contact-saved")).to_be_visible()
    await expect(page.get_by_test_id("customer-name")).to_have_text("Vera Orlova")
    await expect(page.get_by_test_id("conversation-contact")).to_have_text("Vera Orlova")

    box = page.get_by_test_id("reply-input")
    await box.fill("/")
    await box.press_sequentially("thanks")
    await expect(page.get_by_test_id("canned-item")).to_have_count(1)
    await box.press("Enter")
    await expect(box).to_have_value("Thank you, Vera Orlova!")


async def test_a_canned_reply_made_on_the_page_is_offered_by_its_shortcut(browser: Browser, server: LiveServer) -> None:
    conversation_id, _ = await _customer(server, "do you ship to Kazan?", "ivan-1", "Ivan")
    page = await sign_in(await new_context(browser), server, "lead", "/canned")
    form = page.get_by_test_id("canned-form")
    await form.get_by_test_id("canned-shortcut").fill("kazan")
    await form.get_by_test_id("canned-team").select_option(label="Team Support")
    await form.get_by_test_id("canned-text").fill("Yes, {{contact.name}}, in two days.")
    await expect(form.get_by_test_id("canned-preview")).to_have_text("Yes, Anna Petrova, in two days.")
    await form.get_by_test_id("canned-save").click()
    await expect(page.locator("[data-testid='canned-row'][data-shortcut='kazan']")).to_be_visible()

    await page.goto(f"{server.url}/conversations/{conversation_id}")
    box = page.get_by_test_id("reply-input")
    await box.fill("/")
    await box.press_sequentially("kaz")
    await expect(page.get_by_test_id("canned-item")).to_have_count(1)
    await box.press("Enter")
    await expect(box).to_have_value("Yes, Ivan, in two days.")


async def test_an_operator_changes_her_own_canned_reply_on_the_page(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None and server.staff is not None
    async with server.app[sessions_key]() as session, session.begin():
        session.add(CannedResponse(shortcut="bye", text="Bye!", owner_id=server.staff.anna))
        session.add(CannedResponse(shortcut="team-bye", text="Bye from us", team_id=server.staff.support))
    page = await sign_in(await new_context(browser), server, "anna", "/canned")
    await expect(page.get_by_test_id("canned-edit")).to_have_count(1)  # the team's is the lead's to change
    mine = page.locator("[data-testid='canned-row'][data-shortcut='bye']")
    await mine.get_by_test_id("canned-edit").click()
    form = page.get_by_test_id("canned-form")
    await expect(form.get_by_test_id("canned-text")).to_have_value("Bye!")
    await form.get_by_test_id("canned-text").fill("Goodbye, {{contact.name}}!")
    await expect(form.get_by_test_id("canned-preview")).to_have_text("Goodbye, Anna Petrova!")
    await form.get_by_test_id("canned-save").click()
    await expect(mine.locator(".canned-text")).to_have_text("Goodbye, {{contact.name}}!")
    await expect(page.get_by_test_id("canned-row")).to_have_count(2)
    async with server.app[sessions_key]() as session:
        texts = set((await session.scalars(select(CannedResponse.text))).all())
    assert texts == {"Goodbye, {{contact.name}}!", "Bye from us"}


async def test_bad_input_shows_at_the_field_and_changes_nothing(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None
    _, contact_id = await _customer(server, "hi", "vera-1", "Vera", email="vera@example.com")
    page = await sign_in(await new_context(browser), server, "anna", f"/contacts/{contact_id}")
    form = page.get_by_test_id("contact-edit")
    await form.get_by_test_id("contact-name-input").fill("Somebody else")
    await form.get_by_test_id("contact-email-input").fill("vera at example")
    await form.get_by_test_id("contact-save").click()
    await expect(form.get_by_test_id("error-email")).to_have_text("Not an email address: write it as name@example.com.")
    await form.get_by_test_id("contact-email-input").fill("vera@example.com")
    await form.get_by_test_id("contact-phone-input").fill("call me")
    await form.get_by_test_id("contact-save").click()
    await expect(form.get_by_test_id("error-phone")).to_contain_text("Not a phone number")
    await expect(form.get_by_test_id("error-email")).to_be_hidden()
    async with server.app[sessions_key]() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None and (contact.name, contact.email, contact.phone) == (
            "Vera",
            "vera@example.com",
            None,
        )

    await page.goto(f"{server.url}/canned")
    canned = page.get_by_test_id("canned-form")
    await canned.get_by_test_id("canned-shortcut").fill("Big Hello")
    await canned.get_by_test_id("canned-text").fill("Hello")
    await canned.get_by_test_id("canned-save").click()
    await expect(canned.get_by_test_id("error-shortcut")).to_have_text(
        "Lower-case letters, digits, - and _ only, up to 64."
    )
    await expect(page.get_by_test_id("canned-row")).to_have_count(0)
