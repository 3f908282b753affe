"""Bot and knowledge base: suggestions for operators, KB articles with versions, feedback, KB gaps.

Every operator may read suggestions and published articles; leads and admins write articles,
publish them and read the KB-gap report. Articles are addressed by their row id in paths and carry
their text id (`id` in the Markdown front matter) as `slug`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from lines.bots.engine import knowledge_base
from lines.bots.kb import ARTICLE_ID, ArticleError, make_article
from lines.bots.models import BotFeedback, BotQuery, KbArticle, KbArticleVersion
from lines.bots.store import article_dict, save_article, set_status
from lines.console.access import Scope
from lines.console.actions import visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Id, Out, Query, Route
from lines.console.keys import sessions_key, settings_key
from lines.console.models import Conversation, Message, utcnow

MAX_TEXT = 4000


class SuggestIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    lang: Literal["ru", "en"] | None = None


class SuggestionOut(Out):
    article_id: str
    title: str
    lang: str
    score: float
    answer: str


class SuggestOut(Out):
    suggestions: list[SuggestionOut]
    auto_answer: bool
    lang: str


class ConversationSuggestOut(SuggestOut):
    message_id: int | None
    text: str


class ArticleIn(Body):
    slug: Annotated[str, Field(pattern=ARTICLE_ID.pattern)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    lang: Literal["ru", "en"]
    body: Annotated[str, Field(min_length=1, max_length=50_000)]
    questions: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=100)] = []
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = []
    publish: bool = False


class ArticleOut(Out):
    id: int
    slug: str
    title: str
    lang: str
    tags: list[str]
    questions: list[str]
    body: str
    status: str
    version: int
    updated_at: str


class ArticleList(Out):
    articles: list[ArticleOut]


class ArticlesQuery(Query):
    status: Literal["draft", "published", "archived", "any"] = "any"


class StatusIn(Body):
    status: Literal["draft", "published", "archived"]


class VersionOut(Out):
    version: int
    title: str
    lang: str
    tags: list[str]
    questions: list[str]
    body: str
    status: str
    created_at: str
    author_id: int | None


class VersionList(Out):
    versions: list[VersionOut]


class FeedbackIn(Body):
    conversation_id: Id
    article_id: Annotated[str, Field(pattern=ARTICLE_ID.pattern)]
    kind: Literal["used", "edited", "sent"]


class OkOut(Out):
    ok: bool


class GapsQuery(Query):
    days: Annotated[int, Field(ge=1, le=365)] = 30
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class GapOut(Out):
    topic: str
    count: int
    average_score: float
    nearest_article: str | None
    examples: list[str]


class GapList(Out):
    gaps: list[GapOut]
    threshold: float


class ArticleStatsOut(Out):
    article_id: str
    used: int
    edited: int
    helped: int
    not_helped: int


class StatsList(Out):
    articles: list[ArticleStatsOut]


def _lead(call: Call) -> None:
    if not call.ctx.scope.is_lead:
        raise ApiError(403, "forbidden", "only leads and admins manage the knowledge base")


def _out(row: KbArticle) -> dict[str, Any]:
    data = article_dict(row)
    data["slug"] = data.pop("id")
    data["id"] = row.id
    return data


async def suggest(call: Call) -> dict[str, Any]:
    """Rank the KB for any text (what the bot would answer): top 3 with scores, and whether it would answer."""
    body = call.body(SuggestIn)
    result = await knowledge_base(call.app).search(body.text, limit=3, lang=body.lang)
    return {
        "suggestions": [s.as_dict() for s in result.suggestions],
        "auto_answer": result.auto_answer,
        "lang": result.lang,
    }


async def conversation_suggestions(call: Call) -> dict[str, Any]:
    """Top 3 articles for the customer's latest message in this conversation (the prompter)."""
    async with call.app[sessions_key]() as session:
        conversation = await visible_conversation(session, call.ctx.scope, call.ids["id"])
        message = (
            await session.get(Message, conversation.last_inbound_message_id)
            if conversation.last_inbound_message_id
            else None
        )
    text = (message.text or "").strip() if message else ""
    if not text:
        return {
            "message_id": message.id if message else None,
            "text": "",
            "suggestions": [],
            "auto_answer": False,
            "lang": "en",
        }
    result = await knowledge_base(call.app).search(text, limit=3)
    return {
        "message_id": message.id if message else None,
        "text": text[:MAX_TEXT],
        "suggestions": [s.as_dict() for s in result.suggestions],
        "auto_answer": result.auto_answer,
        "lang": result.lang,
    }


async def list_articles(call: Call) -> dict[str, Any]:
    """Articles, newest edit first; operators see published ones only."""
    query = call.query(ArticlesQuery)
    stmt = select(KbArticle).order_by(KbArticle.updated_at.desc(), KbArticle.id.desc())
    if not call.ctx.scope.is_lead:
        stmt = stmt.where(KbArticle.status == "published")
    elif query.status != "any":
        stmt = stmt.where(KbArticle.status == query.status)
    async with call.app[sessions_key]() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return {"articles": [_out(r) for r in rows]}


async def _article(call: Call) -> KbArticle:
    async with call.app[sessions_key]() as session:
        row = await session.get(KbArticle, call.ids["id"])
    if row is None or (row.status != "published" and not call.ctx.scope.is_lead):
        raise ApiError(404, "not_found", f"article {call.ids['id']} not found")
    return row


async def get_article(call: Call) -> dict[str, Any]:
    return _out(await _article(call))


async def _save(call: Call, body: ArticleIn, existing: KbArticle | None) -> dict[str, Any]:
    try:
        article = make_article(body.slug, body.title, body.lang, body.body, body.questions, body.tags)
    except ArticleError as err:
        raise ApiError(422, "validation_error", str(err)) from err
    status = "published" if body.publish else (existing.status if existing else "draft")
    row, _ = await save_article(call.app[sessions_key], article, status=status, author_id=call.ctx.operator.id)
    knowledge_base(call.app).invalidate()
    return _out(row)


async def create_article(call: Call) -> dict[str, Any]:
    """Write a new article (a draft unless `publish`); its text id (`slug`) must be new."""
    _lead(call)
    body = call.body(ArticleIn)
    async with call.app[sessions_key]() as session:
        taken = (await session.execute(select(KbArticle.id).where(KbArticle.slug == body.slug))).first()
    if taken:
        raise ApiError(409, "conflict", f"an article with id {body.slug!r} exists")
    return await _save(call, body, None)


async def update_article(call: Call) -> dict[str, Any]:
    """Save a new version of the article; `publish` publishes it, otherwise its status is kept."""
    _lead(call)
    body = call.body(ArticleIn)
    row = await _article(call)
    if body.slug != row.slug:
        raise ApiError(422, "validation_error", "slug: an article's id cannot change")
    return await _save(call, body, row)


async def change_status(call: Call) -> dict[str, Any]:
    """Publish, unpublish (draft) or archive; each change is a new version."""
    _lead(call)
    body = call.body(StatusIn)
    row = await _article(call)
    updated = await set_status(call.app[sessions_key], row.slug, body.status, call.ctx.operator.id)
    knowledge_base(call.app).invalidate()
    return _out(updated)


async def article_versions(call: Call) -> dict[str, Any]:
    """Every saved version, newest first."""
    _lead(call)
    row = await _article(call)
    async with call.app[sessions_key]() as session:
        versions = (
            await session.execute(
                select(KbArticleVersion)
                .where(KbArticleVersion.article_id == row.id)
                .order_by(KbArticleVersion.version.desc())
            )
        ).scalars()
        return {
            "versions": [
                {
                    "version": v.version,
                    "title": v.title,
                    "lang": v.lang,
                    "tags": list(v.tags or ()),
                    "questions": list(v.questions or ()),
                    "body": v.body,
                    "status": v.status,
                    "created_at": v.created_at.isoformat(),
                    "author_id": v.author_id,
                }
                for v in versions
            ]
        }


async def suggestion_feedback(call: Call) -> dict[str, Any]:
    """The operator used a suggestion: inserted it (`used`), changed it before sending (`edited`) or sent it as is."""
    body = call.body(FeedbackIn)
    async with call.app[sessions_key]() as session, session.begin():
        await visible_conversation(session, call.ctx.scope, body.conversation_id)
        session.add(
            BotFeedback(
                kind=body.kind,
                article_slug=body.article_id,
                conversation_id=body.conversation_id,
                operator_id=call.ctx.operator.id,
            )
        )
    return {"ok": True}


async def kb_gaps(call: Call) -> dict[str, Any]:
    """Frequent customer questions the KB answered badly (best score under the threshold), grouped
    by their main words, most frequent first, with examples: the articles to write next."""
    _lead(call)
    query = call.query(GapsQuery)
    gaps, threshold = await gap_report(call.app, call.ctx.scope, query.days, query.limit)
    return {"gaps": gaps, "threshold": threshold}


async def gap_report(app: web.Application, scope: Scope, days: int, limit: int) -> tuple[list[dict[str, Any]], float]:
    """The gaps among the questions of conversations `scope` may see: a lead reads their teams'
    customers' words only; admins read all."""
    threshold = app[settings_key].bot.threshold
    since = utcnow() - timedelta(days=days)
    asked = select(BotQuery)
    if not scope.is_admin:
        asked = asked.join(Conversation, Conversation.id == BotQuery.conversation_id).where(scope.conversation_filter())
    async with app[sessions_key]() as session:
        rows = (
            await session.execute(
                asked.where(BotQuery.created_at >= since, BotQuery.score < threshold, BotQuery.auto_answered.is_(False))
                .order_by(BotQuery.id.desc())
                .limit(20_000)
            )
        ).scalars()
        groups: dict[str, list[BotQuery]] = defaultdict(list)
        for row in rows:
            terms = [t for t in (row.terms or []) if t]
            if not terms:
                continue
            groups[" ".join(sorted(terms[:3]))].append(row)
    gaps = []
    for topic, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]:
        nearest: defaultdict[str, int] = defaultdict(int)
        for item in items:
            if item.best_article:
                nearest[item.best_article] += 1
        examples: list[str] = []
        for item in items:
            if item.text not in examples:
                examples.append(item.text[:300])
            if len(examples) == 3:
                break
        gaps.append(
            {
                "topic": topic,
                "count": len(items),
                "average_score": round(sum(i.score for i in items) / len(items), 4),
                "nearest_article": max(nearest, key=lambda k: nearest[k]) if nearest else None,
                "examples": examples,
            }
        )
    return gaps, threshold


async def article_stats(call: Call) -> dict[str, Any]:
    """Per article: suggestions used / edited by operators, and "Did this help?" answers."""
    _lead(call)
    async with call.app[sessions_key]() as session:
        rows = (await session.execute(select(BotFeedback.article_slug, BotFeedback.kind))).all()
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"used": 0, "edited": 0, "helped": 0, "not_helped": 0})
    for slug, kind in rows:
        if slug:
            key = "used" if kind == "sent" else kind
            if key in stats[slug]:
                stats[slug][key] += 1
    return {"articles": [{"article_id": slug, **counts} for slug, counts in sorted(stats.items())]}


ARTICLES = "/api/v1/kb/articles"

ROUTES = [
    Route(
        "POST",
        "/api/v1/bot/suggest",
        suggest,
        "Rank knowledge-base articles for a text",
        SuggestOut,
        body=SuggestIn,
        tag="bot",
    ),
    Route(
        "GET",
        "/api/v1/conversations/{id}/suggestions",
        conversation_suggestions,
        "Bot suggestions for the customer's latest message (the operator's prompter)",
        ConversationSuggestOut,
        errors=(404,),
        tag="bot",
    ),
    Route(
        "POST",
        "/api/v1/bot/feedback",
        suggestion_feedback,
        "Record that an operator used a suggestion",
        OkOut,
        body=FeedbackIn,
        errors=(404,),
        tag="bot",
    ),
    Route(
        "GET",
        "/api/v1/bot/gaps",
        kb_gaps,
        "KB-gap report: frequent questions with low scores",
        GapList,
        query=GapsQuery,
        errors=(403,),
        tag="bot",
    ),
    Route(
        "GET",
        "/api/v1/bot/stats",
        article_stats,
        "Suggestion use and customer feedback per article",
        StatsList,
        errors=(403,),
        tag="bot",
    ),
    Route("GET", ARTICLES, list_articles, "Knowledge-base articles", ArticleList, query=ArticlesQuery, tag="kb"),
    Route(
        "POST",
        ARTICLES,
        create_article,
        "Write an article (draft or published)",
        ArticleOut,
        body=ArticleIn,
        status=201,
        errors=(403, 409),
        tag="kb",
    ),
    Route("GET", f"{ARTICLES}/{{id}}", get_article, "One article", ArticleOut, errors=(404,), tag="kb"),
    Route(
        "PUT",
        f"{ARTICLES}/{{id}}",
        update_article,
        "Save a new version of an article",
        ArticleOut,
        body=ArticleIn,
        errors=(403, 404),
        tag="kb",
    ),
    Route(
        "POST",
        f"{ARTICLES}/{{id}}/status",
        change_status,
        "Publish, unpublish or archive an article",
        ArticleOut,
        body=StatusIn,
        errors=(403, 404),
        tag="kb",
    ),
    Route(
        "GET",
        f"{ARTICLES}/{{id}}/versions",
        article_versions,
        "Every saved version of an article",
        VersionList,
        errors=(403, 404),
        tag="kb",
    ),
]
