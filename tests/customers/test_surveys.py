"""CSAT/NPS after resolution: asked once per conversation, answered from each channel, recorded once."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from lines.console.customers.models import Survey
from lines.console.keys import sessions_key
from lines.console.models import Conversation, Status
from tests.api.helpers import Client, auth_headers, eventually
from tests.conftest import Staff
from tests.customers.conftest import Channels
from tests.customers.helpers import customer_says


async def _resolve(client: Client, conversation_id: int, status: str = "resolved") -> None:
    headers = await auth_headers(client, "admin")
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/status", json={"status": status}, headers=headers
    )
    assert response.status == 200, await response.text()


async def _survey(client: Client, conversation_id: int) -> Survey | None:
    async with client.app[sessions_key]() as session:
        return await session.scalar(select(Survey).where(Survey.conversation_id == conversation_id))


async def _asked(client: Client, fakes: Channels, kind: str, sender: str) -> tuple[int, Survey, dict[str, object]]:
    """A resolved conversation on `kind` whose survey question went out; (conversation, survey, sent extra)."""
    first = await customer_says(client, "help", channel=kind, sender=sender)
    await _resolve(client, first.conversation_id)

    async def sent() -> bool:
        return any((m.extra or {}).get("survey") for m in fakes[kind].sent)

    await eventually(sent)
    survey = await _survey(client, first.conversation_id)
    assert survey is not None
    message = next(m for m in fakes[kind].sent if (m.extra or {}).get("survey"))
    return first.conversation_id, survey, {"text": message.text, "extra": message.extra}


async def _press(client: Client, kind: str, sender: str, survey: Survey, score: int) -> None:
    await customer_says(
        client,
        str(score),
        channel=kind,
        sender=sender,
        extra={"button": {"id": f"survey:{survey.id}:{score}", "message_id": survey.message_id or 0}},
    )


async def _answered(client: Client, conversation_id: int, score: int) -> None:
    async def done() -> bool:
        survey = await _survey(client, conversation_id)
        return survey is not None and survey.score == score

    await eventually(done)


async def test_a_resolved_webchat_conversation_is_asked_with_buttons(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    _, survey, sent = await _asked(client, fakes, "webchat", "w1")
    buttons = sent["extra"]["buttons"]  # type: ignore[index]
    assert [b["label"] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert survey.kind == "csat" and survey.score is None


async def test_a_webchat_button_answer_is_recorded_once(client: Client, staff: Staff, fakes: Channels) -> None:
    conversation_id, survey, _ = await _asked(client, fakes, "webchat", "w2")
    await _press(client, "webchat", "w2", survey, 5)
    await _answered(client, conversation_id, 5)
    await _press(client, "webchat", "w2", survey, 1)
    await customer_says(client, "one more thing", channel="webchat", sender="w2")
    stored = await _survey(client, conversation_id)
    assert stored is not None and stored.score == 5 and stored.answered_via == "button"


async def test_a_telegram_button_answer_is_recorded_once(client: Client, staff: Staff, fakes: Channels) -> None:
    conversation_id, survey, _ = await _asked(client, fakes, "telegram", "t1")
    await _press(client, "telegram", "t1", survey, 4)
    await _press(client, "telegram", "t1", survey, 4)
    await _answered(client, conversation_id, 4)


async def test_an_sms_typed_answer_is_recorded_and_out_of_range_numbers_ignored(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    conversation_id, _, sent = await _asked(client, fakes, "sms", "+79001112233")
    assert "1" in str(sent["text"]) and "5" in str(sent["text"])
    await customer_says(client, "9", channel="sms", sender="+79001112233")
    await customer_says(client, "0", channel="sms", sender="+79001112233")
    await customer_says(client, " 3 ", channel="sms", sender="+79001112233")
    await _answered(client, conversation_id, 3)
    await customer_says(client, "5", channel="sms", sender="+79001112233")
    stored = await _survey(client, conversation_id)
    assert stored is not None and stored.score == 3 and stored.answered_via == "typed"


async def test_an_answer_after_resolution_does_not_leave_an_open_conversation(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    conversation_id, _, _ = await _asked(client, fakes, "sms", "+79004445566")
    answer = await customer_says(client, "4", channel="sms", sender="+79004445566")
    assert answer.conversation_id != conversation_id
    await _answered(client, conversation_id, 4)

    async def closed() -> bool:
        async with client.app[sessions_key]() as session:
            return await session.scalar(
                select(Conversation.status).where(Conversation.id == answer.conversation_id)
            ) == (Status.RESOLVED)

    await eventually(closed)


async def test_an_email_customer_answers_through_the_signed_link_once(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    conversation_id, _, sent = await _asked(client, fakes, "email", "vera@example.com")
    match = re.search(r"https://lines\.example(/survey/\S+)", str(sent["text"]))
    assert match, sent["text"]
    path = match.group(1)
    page = await client.get(path)
    assert page.status == 200 and 'data-testid="score-5"' in await page.text()
    assert (await client.post(path, data={"score": "7"})).status == 422
    thanks = await client.post(path, data={"score": "5"})
    assert thanks.status == 200 and "survey-thanks" in await thanks.text()
    again = await client.post(path, data={"score": "1"})
    assert "survey-answered" in await again.text()
    await _answered(client, conversation_id, 5)


async def test_a_forged_survey_link_is_not_found(client: Client, staff: Staff, fakes: Channels) -> None:
    _, survey, _ = await _asked(client, fakes, "email", "forger@example.com")
    assert (await client.get(f"/survey/{survey.id}.AAAAAAAAAAAAAAAAAAAAAAAA")).status == 404
    assert (await client.post(f"/survey/{survey.id + 1}.x", data={"score": "5"})).status == 404


async def test_a_button_for_another_customers_survey_is_ignored(client: Client, staff: Staff, fakes: Channels) -> None:
    conversation_id, survey, _ = await _asked(client, fakes, "telegram", "t-victim")
    await _press(client, "telegram", "t-attacker", survey, 1)
    await _press(client, "telegram", "t-victim", survey, 5)
    await _answered(client, conversation_id, 5)


async def test_a_conversation_is_surveyed_once_even_if_resolved_again(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    conversation_id, _, _ = await _asked(client, fakes, "webchat", "w3")
    await _resolve(client, conversation_id, "open")
    await _resolve(client, conversation_id)
    await customer_says(client, "sync point", channel="loopback")
    async with client.app[sessions_key]() as session:
        count = await session.scalar(
            select(func.count()).select_from(Survey).where(Survey.conversation_id == conversation_id)
        )
    assert count == 1
    assert sum(1 for m in fakes["webchat"].sent if (m.extra or {}).get("survey")) == 1
