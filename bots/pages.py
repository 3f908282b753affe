"""The lead's knowledge-base pages: list, write / edit / preview / publish articles, versions, KB gaps.

Server-rendered like the rest of the console (console/views.py `Page`); forms post with the
session's CSRF token. Operators who are not leads get 403.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from sqlalchemy import select

from lines.bots.api import gap_report
from lines.bots.engine import knowledge_base
from lines.bots.kb import ArticleError, make_article
from lines.bots.models import KbArticle, KbArticleVersion
from lines.bots.store import save_article, set_status
from lines.console.auth import AuthContext
from lines.console.keys import sessions_key
from lines.console.views import Page, redirect, signed_in


async def _lead(request: web.Request) -> AuthContext:
    ctx = await signed_in(request)
    if not ctx.scope.is_lead:
        raise web.HTTPForbidden(text="the knowledge base is for leads and admins")
    return ctx


async def _form(request: web.Request, ctx: AuthContext) -> Any:
    form = await request.post()
    sent = str(form.get("csrf", ""))
    if not ctx.csrf or not hmac.compare_digest(sent.encode(), ctx.csrf.encode()):
        raise web.HTTPForbidden(text="missing or wrong CSRF token")
    return form


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


async def kb_list(request: web.Request) -> web.Response:
    ctx = await _lead(request)
    async with request.app[sessions_key]() as session:
        rows = (await session.execute(select(KbArticle).order_by(KbArticle.lang, KbArticle.slug))).scalars().all()
    return Page(request, ctx).render("kb_list.html", articles=rows, active_nav="kb")


async def kb_edit(request: web.Request) -> web.Response:
    ctx = await _lead(request)
    raw = request.match_info.get("id", "")
    row: KbArticle | None = None
    versions: list[KbArticleVersion] = []
    if raw != "new":
        if not raw.isdigit():
            raise web.HTTPNotFound()
        async with request.app[sessions_key]() as session:
            row = await session.get(KbArticle, int(raw))
            if row is None:
                raise web.HTTPNotFound()
            versions = list(
                (
                    await session.execute(
                        select(KbArticleVersion)
                        .where(KbArticleVersion.article_id == row.id)
                        .order_by(KbArticleVersion.version.desc())
                    )
                ).scalars()
            )
    fields = {
        "slug": row.slug if row else "",
        "title": row.title if row else "",
        "lang": row.lang if row else "ru",
        "tags": ", ".join(row.tags or []) if row else "",
        "questions": "\n".join(row.questions or []) if row else "",
        "body": row.body if row else "",
    }
    return Page(request, ctx).render(
        "kb_edit.html", article=row, fields=fields, versions=versions, error="", active_nav="kb"
    )


async def kb_save(request: web.Request) -> web.Response:
    """Save (a new version), save and publish, or change the status, from the edit form."""
    ctx = await _lead(request)
    form = await _form(request, ctx)
    sessions = request.app[sessions_key]
    action = str(form.get("action", "save"))
    fields = {k: str(form.get(k, "")) for k in ("slug", "title", "lang", "tags", "questions", "body")}
    if action in ("draft", "archived") and fields["slug"]:
        try:
            row = await set_status(sessions, fields["slug"], action, ctx.operator.id)
        except LookupError as err:
            raise web.HTTPNotFound() from err
        knowledge_base(request.app).invalidate()
        return redirect(f"/kb/{row.id}")
    try:
        article = make_article(
            fields["slug"].strip(),
            fields["title"],
            fields["lang"],
            fields["body"],
            _lines(fields["questions"]),
            [t.strip() for t in fields["tags"].split(",") if t.strip()],
            "article",
        )
    except ArticleError as err:
        page = Page(request, ctx)
        return page.render(
            "kb_edit.html", http_status=422, article=None, fields=fields, versions=[], error=str(err), active_nav="kb"
        )
    status = "published" if action == "publish" else None
    row, _ = await save_article(sessions, article, status=status, author_id=ctx.operator.id)
    knowledge_base(request.app).invalidate()
    return redirect(f"/kb/{row.id}")


async def kb_gaps_page(request: web.Request) -> web.Response:
    ctx = await _lead(request)
    gaps, threshold = await gap_report(request.app, ctx.scope, days=30, limit=30)
    return Page(request, ctx).render("kb_gaps.html", gaps=gaps, threshold=threshold, active_nav="kb")


def setup(app: web.Application) -> None:
    app.router.add_get("/kb", kb_list)
    app.router.add_get("/kb/gaps", kb_gaps_page)
    app.router.add_get("/kb/{id}", kb_edit)
    app.router.add_post("/kb/save", kb_save)
