"""The knowledge base in the store: import, edit, publish, versions, and the live search index.

Every save writes a new row in `kb_article_versions` and bumps `kb_articles.version`; nothing is
rewritten. Only `published` articles are searched. Each process keeps one `Index` and rebuilds it
when the KB changes: after its own edits at once, and after another worker's within
`RELOAD_SECONDS` (it compares the number of articles and the latest `updated_at`).

With a sentence encoder, published articles keep their vectors in `kb_articles.embedding`:
`refresh_embeddings` encodes those whose text or model changed (on import, and before the index
is rebuilt, so articles edited in the console are covered too); the index reads them back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from lines.bots.kb import Article, make_article
from lines.bots.models import KbArticle, KbArticleVersion
from lines.bots.retrieval import DEFAULT_MARGIN, DEFAULT_THRESHOLD, Index, Result
from lines.bots.semantic import Encoder, SemanticIndex, decode, encode_article, key_of
from lines.console.db import SessionMaker
from lines.console.models import utcnow

STATUSES = ("draft", "published", "archived")
RELOAD_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    archived: int


def to_article(row: KbArticle | KbArticleVersion, slug: str | None = None) -> Article:
    return Article(
        slug or row.slug,  # type: ignore[union-attr]
        row.title,
        row.lang,
        row.body,
        tuple(row.questions or ()),
        tuple(row.tags or ()),
    )


def article_dict(row: KbArticle) -> dict[str, Any]:
    return {
        "id": row.slug,
        "title": row.title,
        "lang": row.lang,
        "tags": list(row.tags or ()),
        "questions": list(row.questions or ()),
        "body": row.body,
        "status": row.status,
        "version": row.version,
        "updated_at": row.updated_at.isoformat(),
    }


def _same(row: KbArticle, article: Article) -> bool:
    return (
        row.title == article.title
        and row.lang == article.lang
        and row.body == article.body
        and list(row.questions or ()) == list(article.questions)
        and list(row.tags or ()) == list(article.tags)
    )


def _version(row: KbArticle, author_id: int | None) -> KbArticleVersion:
    return KbArticleVersion(
        article_id=row.id,
        version=row.version,
        lang=row.lang,
        title=row.title,
        tags=list(row.tags or ()),
        questions=list(row.questions or ()),
        body=row.body,
        status=row.status,
        created_at=row.updated_at,
        author_id=author_id,
    )


async def save_article(
    sessions: SessionMaker,
    article: Article,
    *,
    status: str | None = None,
    author_id: int | None = None,
    source: str = "editor",
) -> tuple[KbArticle, bool]:
    """Create or update an article by its id; returns the row and whether a new version was written."""
    async with sessions() as session, session.begin():
        row = (await session.execute(select(KbArticle).where(KbArticle.slug == article.id))).scalar_one_or_none()
        if row is not None and _same(row, article) and (status is None or status == row.status):
            return row, False
        now = utcnow()
        if row is None:
            row = KbArticle(slug=article.id, version=1, status=status or "draft", source=source)
            session.add(row)
        else:
            row.version += 1
            if status:
                row.status = status
        row.title, row.lang, row.body = article.title, article.lang, article.body
        row.questions, row.tags = list(article.questions), list(article.tags)
        row.updated_at, row.updated_by_id, row.source = now, author_id, source
        await session.flush()
        session.add(_version(row, author_id))
    return row, True


async def set_status(sessions: SessionMaker, slug: str, status: str, author_id: int | None = None) -> KbArticle:
    """Publish, unpublish (draft) or archive; raises LookupError for an unknown id."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    async with sessions() as session, session.begin():
        row = (await session.execute(select(KbArticle).where(KbArticle.slug == slug))).scalar_one_or_none()
        if row is None:
            raise LookupError(slug)
        if row.status != status:
            row.status = status
            row.version += 1
            row.updated_at, row.updated_by_id = utcnow(), author_id
            await session.flush()
            session.add(_version(row, author_id))
    return row


async def import_articles(
    sessions: SessionMaker,
    articles: Iterable[Article],
    *,
    archive_missing: bool = True,
    progress: Callable[[int], None] | None = None,
    encoder: Encoder | None = None,
) -> ImportResult:
    """Import a folder's articles as published; re-import updates, archive articles gone from it.

    Only articles that came from an import are archived when missing; the lead's own articles
    written in the editor are left alone.
    """
    created = updated = unchanged = 0
    seen: set[str] = set()
    async with sessions() as session:
        existing = set((await session.execute(select(KbArticle.slug))).scalars())
    for n, article in enumerate(articles, 1):
        seen.add(article.id)
        _, changed = await save_article(sessions, article, status="published", source="import")
        if not changed:
            unchanged += 1
        elif article.id in existing:
            updated += 1
        else:
            created += 1
        if progress:
            progress(n)
    archived = 0
    if archive_missing:
        async with sessions() as session:
            found = (
                await session.execute(
                    select(KbArticle.slug).where(
                        KbArticle.source == "import", KbArticle.status != "archived", KbArticle.slug.not_in(seen)
                    )
                )
            ).scalars()
            gone = list(found)
        for slug in gone:
            await set_status(sessions, slug, "archived")
            archived += 1
    if encoder is not None:
        await refresh_embeddings(sessions, encoder)
    return ImportResult(created, updated, unchanged, archived)


async def refresh_embeddings(sessions: SessionMaker, encoder: Encoder) -> int:
    """Encode the published articles whose stored vectors are missing or stale; returns how many."""
    async with sessions() as session:
        rows = (await session.execute(select(KbArticle).where(KbArticle.status == "published"))).scalars().all()
        stale = [
            (row.id, to_article(row)) for row in rows if row.embedding_key != key_of(to_article(row), encoder.name)
        ]
    for row_id, article in stale:
        blob = await asyncio.to_thread(encode_article, encoder, article)
        async with sessions() as session, session.begin():
            row = await session.get(KbArticle, row_id)
            if row is not None:
                row.embedding, row.embedding_key = blob, key_of(article, encoder.name)
    return len(stale)


async def published_articles(sessions: SessionMaker) -> list[Article]:
    return [article for article, _ in await _published_with_vectors(sessions, None)]


async def _published_with_vectors(sessions: SessionMaker, model: str | None) -> list[tuple[Article, bytes | None]]:
    """Published articles with their stored vectors when made by `model` from the current text."""
    async with sessions() as session:
        rows = (
            await session.execute(select(KbArticle).where(KbArticle.status == "published").order_by(KbArticle.slug))
        ).scalars()
        out = []
        for row in rows:
            article = to_article(row)
            fresh = model is not None and row.embedding is not None and row.embedding_key == key_of(article, model)
            out.append((article, row.embedding if fresh else None))
        return out


class KnowledgeBase:
    """The searchable published KB of one process."""

    def __init__(
        self,
        sessions: SessionMaker,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        encoder: Encoder | None = None,
    ) -> None:
        self._sessions = sessions
        self._encoder = encoder
        self._threshold = threshold
        self._margin = margin
        self._index: Index | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._checked = 0.0
        self._stamp = None

    async def _current_stamp(self) -> tuple[Any, ...]:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(func.count(KbArticle.id), func.max(KbArticle.updated_at), func.sum(KbArticle.version))
                )
            ).one()
        return tuple(row)

    async def index(self) -> Index:
        now = time.monotonic()
        if self._index is not None and now - self._checked < RELOAD_SECONDS:
            return self._index
        async with self._lock:
            if self._index is not None and time.monotonic() - self._checked < RELOAD_SECONDS:
                return self._index
            stamp = await self._current_stamp()
            if self._index is None or stamp != self._stamp:
                self._index = await self._build()
                self._stamp = stamp
            self._checked = time.monotonic()
            return self._index

    async def _build(self) -> Index:
        encoder = self._encoder
        if encoder is None:
            articles = await published_articles(self._sessions)
            return await asyncio.to_thread(Index, articles, self._threshold, self._margin)
        await refresh_embeddings(self._sessions, encoder)
        pairs = await _published_with_vectors(self._sessions, encoder.name)
        if any(blob is None for _, blob in pairs):  # edited meanwhile: rank lexically until the next rebuild
            encoder = None
        semantic = SemanticIndex([decode(blob) for _, blob in pairs if blob is not None]) if encoder else None
        articles = [article for article, _ in pairs]
        return await asyncio.to_thread(
            lambda: Index(articles, self._threshold, self._margin, encoder=encoder, semantic=semantic)
        )

    async def search(self, text: str, limit: int = 3, lang: str | None = None) -> Result:
        index = await self.index()
        if index.encoder is not None:
            return await asyncio.to_thread(index.search, text, limit, lang)
        return index.search(text, limit=limit, lang=lang)


def validate(fields: dict[str, Any]) -> Article:
    """An `Article` from API/form fields; raises `ArticleError`."""
    return make_article(
        fields.get("id", ""),
        fields.get("title", ""),
        fields.get("lang", ""),
        fields.get("body", ""),
        fields.get("questions") or (),
        fields.get("tags") or (),
    )
