"""Threading, scoped to the contact, and replies out over SMTP: real Dovecot in, aiosmtpd sink out."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from lines.console.keys import sessions_key
from lines.console.models import Contact, ContactIdentity, Conversation, Message
from tests.api.helpers import auth_headers, eventually
from tests.channels.email.conftest import SUPPORT, Client, compose
from tests.channels.email.servers import Dovecot, Sink
from tests.channels.webchat.conftest import reply
from tests.test_views import login


async def inbound(client: Client, count: int) -> list[Message]:
    """Wait for `count` inbound messages and return them, oldest first."""
    found: list[Message] = []

    async def arrived() -> bool:
        nonlocal found
        async with client.app[sessions_key]() as session:
            found = list(
                (await session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))).all()
            )
        return len(found) >= count

    await eventually(arrived)
    return found


async def sent(sink: Sink, count: int) -> list[tuple[list[str], EmailMessage]]:
    async def arrived() -> bool:
        return len(sink.messages) >= count

    await eventually(arrived)
    return sink.messages


async def answered(client: Client, dovecot: Dovecot, user: tuple[str, str], sink: Sink) -> tuple[int, EmailMessage]:
    """Ivan writes, Anna answers: the conversation id and the email Ivan gets."""
    dovecot.append(
        *user, compose("Ivan Petrov <ivan@example.org>", "Invoice", "Send the invoice", message_id="q1@ivan.example")
    )
    [first] = await inbound(client, 1)
    await reply(client, client.staff, first.conversation_id, "Here it is.")  # type: ignore[attr-defined]
    [(_, mail)] = await sent(sink, 1)
    return first.conversation_id, mail


async def test_an_operator_reply_reaches_the_customer_with_thread_headers_and_signature(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, mail = await answered(email_client, dovecot, mail_user, sink)
    [(recipients, _)] = sink.messages
    assert recipients == ["ivan@example.org"]
    assert mail["From"].addresses[0].display_name == "Anna Ivanova via Support"
    assert mail["From"].addresses[0].addr_spec == SUPPORT
    assert str(mail["Reply-To"]) == SUPPORT
    assert str(mail["In-Reply-To"]) == "<q1@ivan.example>"
    assert "<q1@ivan.example>" in str(mail["References"])
    assert str(mail["Subject"]) == f"Re: Invoice [#{conversation_id}]"
    assert str(mail["Message-ID"]).startswith(f"<lines.{conversation_id}.")
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Here it is.")
    assert "-- \nAnna Ivanova, Lines support" in text
    assert "Anna Ivanova, Lines support" in html

    async def recorded() -> bool:  # the outbox stores our Message-ID as the reply's external id
        async with email_client.app[sessions_key]() as session:
            ours = await session.scalar(select(Message).where(Message.direction == "out"))
        return ours is not None and ours.external_id == str(mail["Message-ID"]).strip("<>")

    await eventually(recorded)


async def test_a_reply_with_references_joins_the_conversation(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, mail = await answered(email_client, dovecot, mail_user, sink)
    ours = str(mail["Message-ID"])
    dovecot.append(
        *mail_user,
        compose(
            "Ivan Petrov <ivan@example.org>",
            "RE: Invoice",
            "Thanks!\n\nOn Tue, 24 Nov 2026, Anna wrote:\n> Here it is.",
            message_id="q2@ivan.example",
            in_reply_to=ours.strip("<>"),
            references=f"<q1@ivan.example> {ours}",
        ),
    )
    second = (await inbound(email_client, 2))[1]
    assert second.conversation_id == conversation_id
    assert second.text == "Thanks!"
    assert "Here it is." in second.extra["quoted"]


async def test_a_mobile_reply_with_only_in_reply_to_our_signed_id_joins_the_conversation(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, mail = await answered(email_client, dovecot, mail_user, sink)
    dovecot.append(
        *mail_user,
        compose(
            "ivan@example.org",
            "Re",
            "ok",
            message_id="q3@ivan.example",
            in_reply_to=str(mail["Message-ID"]).strip("<>"),
        ),
    )
    assert (await inbound(email_client, 2))[1].conversation_id == conversation_id


async def test_a_reply_with_no_thread_headers_joins_by_the_subject_tag(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, _ = await answered(email_client, dovecot, mail_user, sink)
    dovecot.append(
        *mail_user,
        compose("ivan@example.org", f"Re: Invoice [#{conversation_id}]", "one more", message_id="q4@ivan.example"),
    )
    assert (await inbound(email_client, 2))[1].conversation_id == conversation_id


async def test_a_subject_tag_of_another_customers_conversation_opens_a_new_one(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, _ = await answered(email_client, dovecot, mail_user, sink)
    dovecot.append(
        *mail_user,
        compose("mallory@evil.example", f"Re: [#{conversation_id}]", "let me in", message_id="e1@evil.example"),
    )
    assert (await inbound(email_client, 2))[1].conversation_id != conversation_id


async def test_a_reference_to_a_customers_own_id_or_an_invented_one_of_ours_does_not_cross_customers(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, mail = await answered(email_client, dovecot, mail_user, sink)
    ours = str(mail["Message-ID"]).strip("<>")
    invented = ours.replace(f"lines.{conversation_id}.", f"lines.{conversation_id}.9")
    dovecot.append(
        *mail_user,
        *(
            compose("mallory@evil.example", "Re: Invoice", "hi", message_id=f"e{n}@evil.example", in_reply_to=ref)
            for n, ref in enumerate(("q1@ivan.example", invented))
        ),
    )
    _, customers_id, invented_id = await inbound(email_client, 3)
    assert conversation_id not in (customers_id.conversation_id, invented_id.conversation_id)


async def test_a_reply_to_our_message_from_another_address_joins_the_conversation_flagged_and_offered_for_merge(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, mail = await answered(email_client, dovecot, mail_user, sink)
    ours = str(mail["Message-ID"]).strip("<>")
    dovecot.append(
        *mail_user,
        compose(
            "Ivan Petrov <ivan.home@example.net>", "Re: Invoice", "from home", message_id="h1@home", in_reply_to=ours
        ),
    )
    home = (await inbound(email_client, 2))[1]
    assert home.conversation_id == conversation_id
    async with email_client.app[sessions_key]() as session:
        work = await session.get(Conversation, conversation_id)
        identity = await session.scalar(
            select(ContactIdentity).where(ContactIdentity.external_id == "ivan.home@example.net")
        )
        assert work is not None and identity is not None
        contacts = (await session.scalars(select(Contact.id).order_by(Contact.id))).all()
    assert identity.contact_id != work.contact_id and contacts == [work.contact_id, identity.contact_id]
    assert home.extra["new_address"] == {"contact_id": identity.contact_id, "address": "ivan.home@example.net"}
    headers = await auth_headers(email_client, "admin")
    detail = await (await email_client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()
    assert [m["email"]["new_address"] for m in detail["messages"] if m["direction"] == "in"] == [
        None,
        "ivan.home@example.net",
    ]
    card = await (await email_client.get(f"/api/v1/contacts/{work.contact_id}", headers=headers)).json()
    assert [(d["contact"]["id"], d["reasons"]) for d in card["duplicates"]] == [
        (identity.contact_id, ["replied_in_conversation"])
    ]
    await login(email_client, "admin")
    page = await (await email_client.get(f"/conversations/{conversation_id}")).text()
    assert 'data-testid="email-new-address"' in page and "ivan.home@example.net" in page


async def test_replies_from_other_addresses_to_one_mailing_each_join_their_own_customers_conversation(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    dovecot.append(
        *mail_user,
        *(
            compose(f"{who}@work.example", "November news", f"{who} asks", message_id=f"{who}@work")
            for who in ("olga", "petr")
        ),
    )
    olga, petr = await inbound(email_client, 2)
    for asked in (olga, petr):
        await reply(email_client, email_client.staff, asked.conversation_id, "Our November news")  # type: ignore[attr-defined]
    mails = {recipients[0]: mail for recipients, mail in await sent(sink, 2)}
    assert mails["olga@work.example"]["Message-ID"] != mails["petr@work.example"]["Message-ID"]
    dovecot.append(
        *mail_user,
        *(
            compose(
                f"{who}@home.example",
                "Re: November news",
                f"{who} from home",
                message_id=f"{who}@home",
                in_reply_to=str(mails[f"{who}@work.example"]["Message-ID"]).strip("<>"),
            )
            for who in ("olga", "petr")
        ),
    )
    *_, olga_home, petr_home = await inbound(email_client, 4)
    assert (olga_home.conversation_id, petr_home.conversation_id) == (olga.conversation_id, petr.conversation_id)


async def test_replies_to_one_mass_mailing_stay_apart_per_customer(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(
        *mail_user,
        *(
            compose(
                f"{who}@example.org",
                "Re: Our November news",
                f"from {who}",
                message_id=f"n-{who}@example.org",
                in_reply_to="newsletter-11@lines.test",
                references="<newsletter-11@lines.test>",
            )
            for who in ("olga", "petr")
        ),
    )
    olga, petr = await inbound(email_client, 2)
    assert olga.conversation_id != petr.conversation_id


async def test_a_new_email_from_the_same_customer_opens_a_new_conversation(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(
        *mail_user,
        compose("ivan@example.org", "Invoice", "first topic", message_id="t1@example.org"),
        compose("ivan@example.org", "Delivery", "second topic", message_id="t2@example.org"),
    )
    first, second = await inbound(email_client, 2)
    assert first.conversation_id != second.conversation_id


async def test_replies_go_to_reply_to_when_the_customer_sets_it(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    dovecot.append(
        *mail_user,
        compose(
            "ivan@example.org",
            "Hi",
            "answer my assistant",
            message_id="rt1@example.org",
            headers={"Reply-To": "assistant@example.org"},
        ),
    )
    [first] = await inbound(email_client, 1)
    await reply(email_client, email_client.staff, first.conversation_id, "Sure.")  # type: ignore[attr-defined]
    [(recipients, _)] = await sent(sink, 1)
    assert recipients == ["assistant@example.org"]


async def test_a_resolved_conversation_is_not_reopened_by_a_late_reply(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, mail = await answered(email_client, dovecot, mail_user, sink)
    async with email_client.app[sessions_key]() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.status = "resolved"
    ours = str(mail["Message-ID"]).strip("<>")
    dovecot.append(
        *mail_user,
        compose("ivan@example.org", "Re: Invoice", "again", message_id="late@ivan.example", in_reply_to=ours),
    )
    assert (await inbound(email_client, 2))[1].conversation_id != conversation_id
