"""The bot on customer messages: answers when sure, asks "Did this help?", hands off to routing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from lines.bots.engine import bot_key
from lines.bots.kb import load_dir
from lines.bots.models import BotFeedback, BotQuery
from lines.bots.store import import_articles
from lines.channels.base import Automatic, ContactInfo, InboundMessage
from lines.console.changes import ChangeJob, Inbound, to_payload
from lines.console.keys import events_key, inbox_key, processors_key, sessions_key, settings_key
from lines.console.models import ContactIdentity, Conversation, Direction, Message
from tests.api.helpers import Client, eventually
from tests.conftest import Staff

KB = Path(__file__).resolve().parents[2] / "config" / "kb"


@pytest.fixture
async def shop(client: Client, staff: Staff) -> Client:
    await import_articles(client.app[sessions_key], load_dir(KB))
    return client


@pytest.fixture
def changes(client: Client) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def record(job: ChangeJob) -> None:
        seen.append(to_payload(job))

    client.app[processors_key].append(record)
    return seen


async def say(
    client: Client, text: str, n: int, *, sender: str = "v1", automatic: Automatic = Automatic.NONE, **extra: Any
) -> int:
    result = await client.app[inbox_key].ingest(
        InboundMessage(
            channel="webchat",
            inbox="demo",
            external_id=f"m{sender}{n}",
            sender=ContactInfo(external_id=sender, name="Vera"),
            text=text,
            extra=extra,
            automatic=automatic,
        )
    )
    return result.conversation_id


async def outbound(client: Client, conversation_id: int) -> list[Message]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == Direction.OUT)
            .order_by(Message.id)
        )
        return list(rows)


async def bot_state(client: Client, conversation_id: int) -> str | None:
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.bot_state


async def wait_out(client: Client, conversation_id: int, count: int) -> list[Message]:
    async def enough() -> bool:
        return len(await outbound(client, conversation_id)) >= count

    await eventually(enough)
    return await outbound(client, conversation_id)


async def test_a_typical_question_is_answered_with_did_this_help_buttons(shop: Client) -> None:
    conversation_id = await say(shop, "скока стоит дотавка?", 1)
    [answer] = await wait_out(shop, conversation_id, 1)
    assert "390 ₽" in answer.text and "Это помогло?" in answer.text
    assert answer.author_kind == "bot"
    assert [b["id"] for b in answer.extra["buttons"]] == ["bot:yes", "bot:operator"]
    assert answer.extra["bot"]["article_id"] == "delivery-cost"
    assert await bot_state(shop, conversation_id) == "answering"


async def test_talk_to_an_operator_hands_off_with_a_handoff_change(shop: Client, changes: list[dict[str, Any]]) -> None:
    conversation_id = await say(shop, "how do I return an item", 1)
    [answer] = await wait_out(shop, conversation_id, 1)
    await say(shop, "Talk to an operator", 2, button={"id": "bot:operator", "message_id": answer.id})
    messages = await wait_out(shop, conversation_id, 2)
    assert "operator" in messages[1].text and messages[1].author_kind == "system"
    assert await bot_state(shop, conversation_id) == "handed_off"

    async def handed_off() -> bool:  # the change is queued after the notice; it reaches processors after
        return any(j["kind"] == "handoff" for j in changes)

    await eventually(handed_off)
    handoffs = [j for j in changes if j["kind"] == "handoff"]
    assert [(j["conversation_id"], j["reason"]) for j in handoffs] == [(conversation_id, "customer_asked")]
    async with shop.app[sessions_key]() as session:
        feedback = (await session.scalars(select(BotFeedback))).all()
    assert [(f.kind, f.article_slug) for f in feedback] == [("not_helped", "returns-en")]


@pytest.mark.parametrize("reply", ["нет", "оператор", "no", "operator"])
async def test_a_typed_no_or_operator_hands_off(shop: Client, reply: str) -> None:
    conversation_id = await say(shop, "как вернуть товар", 1)
    await wait_out(shop, conversation_id, 1)
    await say(shop, reply, 2)
    await wait_out(shop, conversation_id, 2)
    assert await bot_state(shop, conversation_id) == "handed_off"


async def test_yes_is_stored_as_feedback_and_the_bot_keeps_the_conversation(shop: Client) -> None:
    conversation_id = await say(shop, "как вернуть товар", 1)
    [answer] = await wait_out(shop, conversation_id, 1)
    await say(shop, "Да", 2, button={"id": "bot:yes", "message_id": answer.id})
    await wait_out(shop, conversation_id, 2)
    assert await bot_state(shop, conversation_id) == "answering"
    async with shop.app[sessions_key]() as session:
        feedback = (await session.scalars(select(BotFeedback))).all()
    assert [(f.kind, f.article_slug) for f in feedback] == [("helped", "returns")]


async def test_a_question_the_kb_cannot_answer_is_left_to_routing(shop: Client, changes: list[dict[str, Any]]) -> None:
    conversation_id = await say(shop, "хочу стать вашим поставщиком", 1)
    await eventually(lambda: _queried(shop, 1))
    assert await outbound(shop, conversation_id) == []
    assert await bot_state(shop, conversation_id) is None


async def test_a_low_score_follow_up_while_answering_hands_off(shop: Client) -> None:
    conversation_id = await say(shop, "как вернуть товар", 1)
    await wait_out(shop, conversation_id, 1)
    await say(shop, "а вы сотрудничаете с блогерами?", 2)
    await wait_out(shop, conversation_id, 2)
    assert await bot_state(shop, conversation_id) == "handed_off"


async def test_auto_replies_and_bounces_are_never_answered(shop: Client) -> None:
    first = await say(shop, "как вернуть товар", 1, sender="a", automatic=Automatic.AUTO_REPLY)
    second = await say(shop, "как вернуть товар", 1, sender="b", automatic=Automatic.BOUNCE)
    await wait_out(shop, await say(shop, "как вернуть товар", 1, sender="c"), 1)  # processed in order
    assert await outbound(shop, first) == [] and await outbound(shop, second) == []


async def test_an_opted_out_identity_is_not_answered(shop: Client) -> None:
    conversation_id = await say(shop, "привет", 1)
    async with shop.app[sessions_key]() as session, session.begin():
        await session.execute(update(ContactIdentity).values(state="opted_out"))
    await say(shop, "как вернуть товар", 2)
    await eventually(lambda: _queried(shop, 2))
    assert await outbound(shop, conversation_id) == []


async def test_a_switched_off_channel_gets_no_answers(shop: Client) -> None:
    bot = shop.app[settings_key].bot.model_copy(update={"disabled_channels": ["webchat"]})
    object.__setattr__(shop.app[settings_key], "bot", bot)
    conversation_id = await say(shop, "как вернуть товар", 1)
    await eventually(lambda: _queried(shop, 1))
    assert await outbound(shop, conversation_id) == []


async def test_a_redelivered_inbound_job_is_answered_once(shop: Client) -> None:
    conversation_id = await say(shop, "как вернуть товар", 1)
    await wait_out(shop, conversation_id, 1)
    async with shop.app[sessions_key]() as session:
        message_id = await session.scalar(select(Message.id).where(Message.direction == Direction.IN))
    await shop.app[events_key].change(Inbound(message_id=message_id, conversation_id=conversation_id))
    await wait_out(shop, await say(shop, "как вернуть товар", 1, sender="later"), 1)  # processed in order
    assert len(await outbound(shop, conversation_id)) == 1


async def _queried(client: Client, count: int) -> bool:
    async with client.app[sessions_key]() as session:
        return len((await session.scalars(select(BotQuery))).all()) >= count


async def test_a_failing_bot_hands_the_conversation_back_to_humans(shop: Client) -> None:
    """The conversation goes back to routing when the bot raises."""
    conversation_id = await say(shop, "как вернуть товар", 1)
    await wait_out(shop, conversation_id, 1)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("index exploded")

    shop.app[bot_key].kb.search = broken  # type: ignore[method-assign]
    await say(shop, "а сколько стоит доставка?", 2)
    await wait_out(shop, conversation_id, 2)
    assert await bot_state(shop, conversation_id) == "handed_off"


async def test_an_auto_responder_cannot_keep_the_bot_answering_forever(shop: Client) -> None:
    """At most 5 automatic answers per conversation per hour, then hand-off."""
    conversation_id = await say(shop, "как вернуть товар", 1)
    for n in range(2, 8):
        await wait_out(shop, conversation_id, n - 1)
        if await bot_state(shop, conversation_id) == "handed_off":
            break
        await say(shop, "как вернуть товар?" + "?" * n, n)
    await eventually(lambda: _state_is(shop, conversation_id, "handed_off"))
    answers = [m for m in await outbound(shop, conversation_id) if m.author_kind == "bot"]
    assert len(answers) == 5


async def test_the_bot_does_not_answer_a_conversation_an_operator_holds(shop: Client, staff: Staff) -> None:
    """One responder owns a conversation."""
    conversation_id = await say(shop, "привет", 1)
    async with shop.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).values(assignee_id=staff.anna))
    await say(shop, "как вернуть товар", 2)
    await eventually(lambda: _queried(shop, 2))
    assert await outbound(shop, conversation_id) == []


async def _state_is(client: Client, conversation_id: int, state: str) -> bool:
    return await bot_state(client, conversation_id) == state
