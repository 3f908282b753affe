"""The bot on each customer message: answer when sure, ask "Did this help?", hand off otherwise.

Runs as a change processor on `inbound` jobs, before routing. For every customer message it
records what was asked and how sure the KB was (`bot_queries`, one row per message, which also
makes a redelivered job a no-op). Then:

- a conversation the bot holds (`bot_state = answering`): "yes" (button `bot:yes` or a typed
  yes/да/спасибо) is stored as feedback; "no" or "operator" (button `bot:operator` or typed) hands
  off; another question is answered again if the KB is sure, handed off if not;
- a conversation nobody holds yet: if the KB is sure, the bot answers with the article and the
  "Did this help?" buttons and takes the conversation (`answering`), so routing waits;
- when Lines is not open for the conversation (out of business hours and nobody who could take it
  online: the core's `availability_key`), a hand-off and a new conversation the bot cannot answer
  tell the customer when operators are back, in the site's or mailbox's time zone and the
  customer's language.

Hand-off sets `bot_state = handed_off` and emits the change `handoff` {conversation_id, reason};
routing assigns the conversation. The bot never answers a machine (an auto-reply, a list, a bounce,
our own mail, a no-reply sender: `may_send_automated`), blocked contacts, identities that opted out or are
unreachable, a conversation an operator holds, or a channel / lead type switched off in `[bot]`.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lines.bots.models import BotFeedback, BotQuery
from lines.bots.retrieval import Result
from lines.bots.semantic import load_encoder
from lines.bots.store import KnowledgeBase
from lines.bots.text import language_of
from lines.console.automated import Button, may_send_automated, send_automated
from lines.console.availability import Openness, local_time_text
from lines.console.changes import Handoff, Inbound
from lines.console.identities import conversation_identity
from lines.console.keys import availability_key, events_key, outbox_key, sessions_key, settings_key
from lines.console.models import (
    AuthorKind,
    Contact,
    Conversation,
    Direction,
    Message,
    Status,
    utcnow,
)

log = logging.getLogger(__name__)

ANSWERING = "answering"
HANDED_OFF = "handed_off"
YES_BUTTON = "bot:yes"
OPERATOR_BUTTON = "bot:operator"
MAX_QUERY_TEXT = 2000
MAX_ANSWERS_PER_HOUR = 5  # automatic answers per conversation; more hands off

YES_WORDS = frozenset({"да", "yes", "y", "ага", "спасибо", "помогло", "thanks", "thank you", "ok", "ок", "угу"})
NO_WORDS = frozenset(
    {
        "нет",
        "no",
        "n",
        "не помогло",
        "оператор",
        "оператора",
        "позовите оператора",
        "позвать оператора",
        "человек",
        "operator",
        "an operator",
        "human",
        "agent",
        "talk to an operator",
        "didn't help",
        "did not help",
    }
)

TEXTS = {
    "ru": {
        "ask": "Это помогло? Ответьте «да» или «оператор».",
        "yes": "Да",
        "operator": "Позвать оператора",
        "thanks": "Рады помочь! Если появятся вопросы — пишите.",
        "handoff": "Передаю ваш вопрос оператору, он ответит здесь же.",
        "closed": "Сейчас операторы не работают; они вернутся {when} и ответят здесь же.",
        "away": "Сейчас свободных операторов нет; первый освободившийся ответит здесь же.",
    },
    "en": {
        "ask": "Did this help? Reply “yes” or “operator”.",
        "yes": "Yes",
        "operator": "Talk to an operator",
        "thanks": "Glad to help! Write any time if you have more questions.",
        "handoff": "I am passing your question to an operator, who will answer here.",
        "closed": "Our operators are away now; they are back {when} and will answer here.",
        "away": "No operator is free right now; the first one back will answer here.",
    },
}


def reply_kind(message_extra: dict[str, Any], text: str) -> str | None:
    """`yes`, `no` or None: the customer's answer to "Did this help?" by button or typed word."""
    button = message_extra.get("button")
    if isinstance(button, dict):
        if button.get("id") == YES_BUTTON:
            return "yes"
        if button.get("id") == OPERATOR_BUTTON:
            return "no"
    plain = re.sub(r"[^\w' ]+", " ", text.lower().replace("’", "'")).strip()
    plain = re.sub(r"\s+", " ", plain)
    if plain in YES_WORDS:
        return "yes"
    if plain in NO_WORDS:
        return "no"
    return None


def away_text(open_: Openness, lang: str) -> str | None:
    """What to tell a customer when Lines is not open for them (None when it is)."""
    if open_.open:
        return None
    texts = TEXTS.get(lang, TEXTS["en"])
    if open_.back_at is None:
        return texts["away"]
    return texts["closed"].format(when=local_time_text(open_.back_at, open_.time_zone, lang if lang in TEXTS else "en"))


def knowledge_base(app: web.Application) -> KnowledgeBase:
    """The app's KB index (created on first use: the sessions exist only once the app started)."""
    return app[bot_key].kb


class Bot:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._kb: KnowledgeBase | None = None

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            settings = self.app[settings_key].bot
            encoder = load_encoder() if settings.encoder == "auto" else None
            self._kb = KnowledgeBase(self.app[sessions_key], settings.threshold, settings.margin, encoder)
        return self._kb

    async def _openness(self, channel: str, inbox: str, team_id: int | None) -> Openness:
        return await self.app[availability_key].open_for(channel, inbox, team_id, utcnow())

    @property
    def _sessions(self) -> Any:
        return self.app[sessions_key]

    async def inbound(self, job: Inbound) -> None:
        """The change processor's handler of a customer message (`bots/processor.py`)."""
        conversation_id = job.conversation_id
        try:
            await self.on_inbound(job.message_id, conversation_id)
        except Exception:
            # A failing bot gives the conversation back to humans.
            log.exception("bot failed on message %s; handing off", job.message_id)
            try:
                async with self._sessions() as session:
                    conversation = await session.get(Conversation, conversation_id)
                if conversation is not None and conversation.bot_state == ANSWERING:
                    await self.hand_off(conversation_id, "bot_failed")
            except Exception:
                log.exception("bot hand-off of conversation %s failed", conversation_id)

    async def on_inbound(self, message_id: int, conversation_id: int) -> None:
        settings = self.app[settings_key].bot
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
            conversation = await session.get(Conversation, conversation_id)
            if message is None or conversation is None or message.direction != Direction.IN:
                return
            if message.author_kind != AuthorKind.CONTACT:
                return
            if not await may_send_automated(session, conversation, message):
                return
            contact = await session.get(Contact, conversation.contact_id)
            identity = await conversation_identity(session, conversation)
            unreachable = identity is not None and identity.state != "active"
        extra = message.extra or {}
        text = (message.text or "").strip()
        button = reply_kind(extra, text) if conversation.bot_state == ANSWERING else None
        result = await self.kb.search(text) if text and button is None else None
        query_id = await self._claim(message, conversation, text, result)
        if query_id is None:
            return  # this message was already handled (a redelivered job)
        if not settings.enabled or (contact is not None and contact.blocked) or unreachable:
            return
        if conversation.channel in settings.disabled_channels:
            return
        if conversation.lead_type and conversation.lead_type in settings.disabled_lead_types:
            return
        if conversation.status == Status.RESOLVED and conversation.bot_state != ANSWERING:
            return
        if conversation.bot_state == HANDED_OFF or (conversation.assignee_id and conversation.bot_state != ANSWERING):
            return
        lang = result.lang if result else language_of(text)
        if button == "yes":
            await self._feedback(conversation_id, message_id, "helped")
            await self._say(conversation_id, TEXTS[lang]["thanks"])
            return
        if button == "no":
            await self._feedback(conversation_id, message_id, "not_helped")
            await self.hand_off(conversation_id, "customer_asked", lang)
            return
        if result is None:
            if conversation.bot_state == ANSWERING:
                await self.hand_off(conversation_id, "no_text", lang)
            return
        if settings.auto_answer and result.auto_answer and result.best is not None:
            if await self._answers_lately(conversation_id) >= MAX_ANSWERS_PER_HOUR:
                # An auto-responder on the other side must not ping-pong with us.
                await self.hand_off(conversation_id, "too_many_answers", lang)
                return
            await self.answer(conversation_id, result, query_id)
        elif conversation.bot_state == ANSWERING:
            await self.hand_off(conversation_id, "low_score", lang)
        else:
            openness = await self._openness(conversation.channel, conversation.inbox, conversation.team_id)
            away = away_text(openness, lang)
            if away is not None and await self._first_inbound(conversation_id, message_id):
                await self._say(conversation_id, away, AuthorKind.SYSTEM)

    async def _claim(
        self, message: Message, conversation: Conversation, text: str, result: Result | None
    ) -> int | None:
        best = result.best if result else None
        row = BotQuery(
            conversation_id=conversation.id,
            message_id=message.id,
            text=text[:MAX_QUERY_TEXT],
            lang=result.lang if result else language_of(text),
            terms=result.terms[:50] if result else [],
            best_article=best.article.id if best else None,
            score=best.score if best else 0.0,
            auto_answered=False,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            return None
        return row.id

    async def _answers_lately(self, conversation_id: int) -> int:
        since = utcnow() - timedelta(hours=1)
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count(BotQuery.id)).where(
                    BotQuery.conversation_id == conversation_id,
                    BotQuery.auto_answered.is_(True),
                    BotQuery.created_at >= since,
                )
            )
        return int(count or 0)

    async def _first_inbound(self, conversation_id: int, message_id: int) -> bool:
        async with self._sessions() as session:
            earlier = (
                await session.execute(
                    select(Message.id).where(
                        Message.conversation_id == conversation_id,
                        Message.direction == Direction.IN,
                        Message.id < message_id,
                    )
                )
            ).first()
        return earlier is None

    async def _say(self, conversation_id: int, text: str, kind: AuthorKind = AuthorKind.BOT, **kw: Any) -> int | None:
        settings = self.app[settings_key].bot
        return await send_automated(
            self._sessions,
            self.app[events_key],
            self.app[outbox_key].notify,
            conversation_id,
            text,
            author_kind=kind,
            author_name=settings.name,
            **kw,
        )

    async def _feedback(self, conversation_id: int, message_id: int | None, kind: str) -> None:
        async with self._sessions() as session, session.begin():
            last = (
                await session.execute(
                    select(BotQuery.best_article)
                    .where(BotQuery.conversation_id == conversation_id, BotQuery.auto_answered.is_(True))
                    .order_by(BotQuery.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            session.add(
                BotFeedback(kind=kind, article_slug=last, conversation_id=conversation_id, message_id=message_id)
            )

    async def answer(self, conversation_id: int, result: Result, query_id: int | None = None) -> None:
        best = result.best
        assert best is not None
        async with self._sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None:
                return
            conversation.bot_state = ANSWERING
            query = await session.get(BotQuery, query_id) if query_id else None
            if query is not None:
                query.auto_answered = True
        texts = TEXTS[best.article.lang if best.article.lang in TEXTS else result.lang]
        await self._say(
            conversation_id,
            f"{best.article.body}\n\n{texts['ask']}",
            buttons=(Button(YES_BUTTON, texts["yes"]), Button(OPERATOR_BUTTON, texts["operator"])),
            extra={"bot": {"article_id": best.article.id, "score": round(best.score, 4)}},
        )

    async def hand_off(self, conversation_id: int, reason: str, lang: str = "en") -> None:
        """Give the conversation to routing: `handed_off`, a notice to the customer, the `handoff` change."""
        async with self._sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None or conversation.bot_state == HANDED_OFF:
                return
            conversation.bot_state = HANDED_OFF
            where = (conversation.channel, conversation.inbox, conversation.team_id)
        texts = TEXTS.get(lang, TEXTS["en"])
        notice = texts["handoff"]
        away = away_text(await self._openness(*where), lang)
        if away is not None:
            notice += " " + away
        await self._say(conversation_id, notice, AuthorKind.SYSTEM)
        await self.app[events_key].change(Handoff(conversation_id=conversation_id, reason=reason))


bot_key = web.AppKey("bot", Bot)
