"""The bot and knowledge-base API: suggest, conversation suggestions, articles, feedback, gaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lines.bots.kb import load_dir
from lines.bots.store import import_articles
from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Operator, Role, Team
from tests.api.helpers import Client, auth_headers, cookie_session, error_of, eventually
from tests.conftest import Staff

KB = Path(__file__).resolve().parents[2] / "config" / "kb"


@pytest.fixture
async def shop(client: Client, staff: Staff) -> Client:
    await import_articles(client.app[sessions_key], load_dir(KB))
    return client


async def test_suggest_ranks_articles_with_scores_and_says_whether_the_bot_would_answer(shop: Client) -> None:
    headers = await auth_headers(shop, "anna")
    response = await shop.post("/api/v1/bot/suggest", json={"text": "gde moj zakaz"}, headers=headers)
    assert response.status == 200
    body = await response.json()
    top = body["suggestions"][0]
    assert top["article_id"] == "order-tracking" and "трек-номер" in top["answer"]
    assert 0 < top["score"] <= 1 and len(body["suggestions"]) <= 3
    assert body["auto_answer"] is True and body["lang"] == "ru"


async def test_suggest_needs_a_login_and_text(shop: Client) -> None:
    assert (await shop.post("/api/v1/bot/suggest", json={"text": "x"})).status == 401
    headers = await auth_headers(shop, "anna")
    assert await error_of(await shop.post("/api/v1/bot/suggest", json={"text": ""}, headers=headers)) == (
        422,
        "validation_error",
    )


async def test_conversation_suggestions_answer_the_latest_customer_message(shop: Client) -> None:
    result = await shop.app[inbox_key].ingest(
        InboundMessage(
            channel="webchat",
            inbox="demo",
            external_id="x1",
            sender=ContactInfo(external_id="v", name="V"),
            text="промокод не работает",
        )
    )
    headers = await auth_headers(shop, "anna")
    response = await shop.get(f"/api/v1/conversations/{result.conversation_id}/suggestions", headers=headers)
    body = await response.json()
    assert response.status == 200 and body["suggestions"][0]["article_id"] == "promo-codes"
    assert body["text"] == "промокод не работает"


async def test_another_teams_conversation_has_no_suggestions_for_you(shop: Client, staff: Staff) -> None:
    headers = await auth_headers(shop, "anna")
    assert (await shop.get("/api/v1/conversations/999999/suggestions", headers=headers)).status == 404


async def test_a_lead_writes_publishes_and_edits_an_article_and_the_next_answer_uses_it(shop: Client) -> None:
    lead = await auth_headers(shop, "lead")
    article = {
        "slug": "gift-wrap",
        "title": "Подарочная упаковка",
        "lang": "ru",
        "questions": ["Можно упаковать в подарок?"],
        "body": "Да, упаковка стоит 200 ₽.",
    }
    created = await shop.post("/api/v1/kb/articles", json=article, headers=lead)
    assert created.status == 201
    row = await created.json()
    assert row["status"] == "draft" and row["version"] == 1
    ask = {"text": "упакуете в подарок?"}
    top = (await (await shop.post("/api/v1/bot/suggest", json=ask, headers=lead)).json())["suggestions"]
    assert all(s["article_id"] != "gift-wrap" for s in top)

    published = await shop.post(f"/api/v1/kb/articles/{row['id']}/status", json={"status": "published"}, headers=lead)
    assert (await published.json())["status"] == "published"
    top = (await (await shop.post("/api/v1/bot/suggest", json=ask, headers=lead)).json())["suggestions"]
    assert top[0]["article_id"] == "gift-wrap"

    edited = await shop.put(
        f"/api/v1/kb/articles/{row['id']}", json={**article, "body": "Да, бесплатно."}, headers=lead
    )
    assert (await edited.json())["version"] == 3
    top = (await (await shop.post("/api/v1/bot/suggest", json=ask, headers=lead)).json())["suggestions"]
    assert top[0]["answer"] == "Да, бесплатно."
    versions = await (await shop.get(f"/api/v1/kb/articles/{row['id']}/versions", headers=lead)).json()
    assert [v["version"] for v in versions["versions"]] == [3, 2, 1]
    assert versions["versions"][2]["body"] == "Да, упаковка стоит 200 ₽."


async def test_operators_cannot_write_articles(shop: Client) -> None:
    anna = await auth_headers(shop, "anna")
    body = {"slug": "x", "title": "X", "lang": "en", "body": "y"}
    assert await error_of(await shop.post("/api/v1/kb/articles", json=body, headers=anna)) == (403, "forbidden")


async def test_a_duplicate_article_id_is_a_conflict(shop: Client) -> None:
    lead = await auth_headers(shop, "lead")
    body = {"slug": "returns", "title": "X", "lang": "ru", "body": "y"}
    assert await error_of(await shop.post("/api/v1/kb/articles", json=body, headers=lead)) == (409, "conflict")


async def test_used_suggestions_and_kb_gaps_are_reported_to_leads(shop: Client) -> None:
    for n, text in enumerate(["есть ли у вас франшиза?", "франшиза у вас есть", "как купить франшизу"]):
        await shop.app[inbox_key].ingest(
            InboundMessage(
                channel="webchat",
                inbox="demo",
                external_id=f"g{n}",
                sender=ContactInfo(external_id=f"g{n}", name="G"),
                text=text,
            )
        )
    lead = await auth_headers(shop, "lead")

    async def gaps() -> list[dict[str, object]]:
        return (await (await shop.get("/api/v1/bot/gaps", headers=lead)).json())["gaps"]

    async def three() -> bool:
        return sum(g["count"] for g in await gaps() if "франшиз" in str(g["topic"])) >= 3  # type: ignore[misc]

    await eventually(three)
    assert any("франшиз" in e for g in await gaps() for e in g["examples"])  # type: ignore[attr-defined]

    anna = await auth_headers(shop, "anna")
    conv = (await (await shop.get("/api/v1/conversations", headers=anna)).json())["conversations"][0]["id"]
    used = {"conversation_id": conv, "article_id": "returns", "kind": "used"}
    assert (await shop.post("/api/v1/bot/feedback", json=used, headers=anna)).status == 200
    stats = await (await shop.get("/api/v1/bot/stats", headers=lead)).json()
    assert {"article_id": "returns", "used": 1, "edited": 0, "helped": 0, "not_helped": 0} in stats["articles"]
    assert (await shop.get("/api/v1/bot/gaps", headers=anna)).status == 403


async def test_a_lead_sees_only_their_teams_customers_in_the_gap_report(shop: Client, password_hash: str) -> None:
    async with shop.app[sessions_key]() as session, session.begin():
        sales = await session.scalar(select(Team).where(Team.name == "sales"))
        session.add(Operator(login="sam", name="Sam Sales", role=Role.LEAD, password_hash=password_hash, teams=[sales]))
    for n, (site, text) in enumerate([("demo", "есть ли у вас франшиза?"), ("shop", "а подарочные сертификаты?")]):
        await shop.app[inbox_key].ingest(
            InboundMessage(
                channel="webchat",
                inbox=site,  # demo goes to team support, shop to team sales
                external_id=f"t{n}",
                sender=ContactInfo(external_id=f"t{n}", name="T"),
                text=text,
            )
        )

    async def examples(who: str) -> set[str]:
        response = await shop.get("/api/v1/bot/gaps", headers=await auth_headers(shop, who))
        return {e for g in (await response.json())["gaps"] for e in g["examples"]}

    async def both() -> bool:
        return len(await examples("admin")) == 2

    await eventually(both)
    assert await examples("sam") == {"а подарочные сертификаты?"}
    assert await examples("lead") == {"есть ли у вас франшиза?", "а подарочные сертификаты?"}
    async with shop.app[sessions_key]() as session:
        sam = await session.scalar(select(Operator.id).where(Operator.login == "sam"))
    assert sam is not None
    cookie, _ = await cookie_session(shop, sam)
    page = await (await shop.get("/kb/gaps", headers=cookie)).text()
    assert "сертификаты" in page and "франшиза" not in page
