"""Server-rendered console pages: login, inbox, conversation; the console's static files.

Pages read through the same visibility rule as the API and render with Jinja2 (autoescape on), so
anything a customer wrote reaches the browser as text. Every page carries a strict CSP without inline
scripts: data for `console.js` travels in a `<script type="application/json">` block.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web
from babel.dates import format_datetime, format_timedelta

from lines.channels import CHANNELS
from lines.channels.base import ChannelFeature
from lines.console import auth, pagedata
from lines.console.actions import ActionError, do_mark_read, do_set_presence, visible_conversation
from lines.console.countdown import sla_words
from lines.console.i18n import LANG_COOKIE, LOCALES, N_, Translations, choose_locale, install
from lines.console.identities import IdentityState, conversation_identity
from lines.console.inline_images import has_inline_images, render_html
from lines.console.keys import channels_key, events_key, nav_key, reply_signature_key, sessions_key, settings_key
from lines.console.models import Presence
from lines.console.nav import EVERYONE, NavItem, visible
from lines.console.serialize import conversation_dict, email_meta, identity_dict
from lines.console.template_files import preloaded_templates

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'"
)
YEAR = 365 * 24 * 3600
LOGIN_ERRORS = {
    "invalid_credentials": N_("Wrong login or password."),
    "too_many_attempts": N_("Too many attempts. Wait a few minutes and try again."),
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    version: str


templates_key = web.AppKey("console_templates", jinja2.Environment)
translations_key = web.AppKey("console_translations", Translations)
static_key = web.AppKey("console_static", dict[str, StaticFile])


def load_static() -> dict[str, StaticFile]:
    """Every file under `lines.web/static`, read once; the version in URLs is a hash of the content."""
    files: dict[str, StaticFile] = {}
    root = resources.files("lines.web").joinpath("static")
    if not root.is_dir():
        return files
    for entry in root.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            body = entry.read_bytes()
            content_type = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            files[entry.name] = StaticFile(body, content_type, hashlib.sha256(body).hexdigest()[:12])
    return files


async def static(request: web.Request) -> web.Response:
    file = request.app[static_key].get(request.match_info["name"])
    if file is None:
        raise web.HTTPNotFound()
    versioned = request.query.get("v") == file.version
    cache = f"public, max-age={YEAR}, immutable" if versioned else "public, max-age=300"
    charset = "utf-8" if file.content_type.startswith(("text/", "application/javascript")) else None
    response = web.Response(body=file.body, content_type=file.content_type, charset=charset)
    response.headers["Cache-Control"] = cache
    response.headers["ETag"] = f'"{file.version}"'
    return response


def local_path(target: str | None, fallback: str = "/") -> str:
    """`target` if it is a path on this site (no scheme, host or `//`), else `fallback`: no open redirects.

    Control characters (CR, LF, NUL, vertical tab...) are refused too: in a Location header they
    would be a header injection, and the server drops the connection instead of answering."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if not target.isprintable():
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on form posts; a foreign one means a cross-site request."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    allowed = {request.host, *(urlsplit(o).netloc for o in request.app[settings_key].server.allowed_origins)}
    public = request.app[settings_key].server.public_url
    if public:
        allowed.add(urlsplit(public).netloc)
    return urlsplit(origin).netloc in allowed


class Page:
    """What every page needs: the locale, its catalog, the signed-in operator."""

    def __init__(self, request: web.Request, ctx: auth.AuthContext | None) -> None:
        self.request = request
        self.ctx = ctx
        self.lang = choose_locale(request, request.app[settings_key].console.default_locale)
        self.translations = request.app[translations_key]
        self.catalog = self.translations.get(self.lang)

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message)

    def static_url(self, name: str) -> str:
        return static_url(self.request.app, name)

    def ago(self, value: datetime | None) -> str:
        if value is None:
            return ""
        delta = value - datetime.now(UTC)
        return format_timedelta(delta, add_direction=True, locale=self.lang, threshold=1.5)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, "d MMM yyyy, HH:mm", tzinfo=UTC, locale=self.lang)

    def sla_left(self, due: datetime) -> str:
        """The badge's first paint; sla.js keeps it current with the same words."""
        return sla_words((due - datetime.now(UTC)).total_seconds() * 1000, self.lang)

    def render(
        self, name: str, http_status: int = 200, data: dict[str, Any] | None = None, **context: Any
    ) -> web.Response:
        me = self.ctx.operator if self.ctx else None
        script_data: dict[str, Any] = {
            "lang": self.lang,
            "strings": self.translations.strings(self.lang),
            "me": {"id": me.id, "name": me.name, "login": me.login} if me else None,
            "csrf": self.ctx.csrf if self.ctx else None,
            **(data or {}),
        }
        nav = self.request.app.get(nav_key, [])
        role = me.role if me else None
        html = (
            self.request.app[templates_key]
            .get_template(name)
            .render(
                catalog=self.catalog,
                lang=self.lang,
                locales=LOCALES,
                me=me,
                csrf=self.ctx.csrf if self.ctx else "",
                presences=[p.value for p in Presence],
                path=self.request.path_qs,
                static_url=self.static_url,
                ago=self.ago,
                when=self.when,
                sla_left=self.sla_left,
                script_data=script_data,
                nav_main=visible(nav, role, "main"),
                nav_admin=visible(nav, role, "admin"),
                **context,
            )
        )
        response = web.Response(text=html, content_type="text/html", charset="utf-8", status=http_status)
        return secure(response)


def static_url(app: web.Application, name: str) -> str:
    """The URL of a file under `lines.web/static`, versioned by its content."""
    file = app[static_key].get(name)
    return f"/static/{name}?v={file.version}" if file else f"/static/{name}"


def secure(response: web.Response) -> web.Response:
    """Every HTML page's headers: the strict CSP, no framing, no caching."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def signed_in(request: web.Request) -> auth.AuthContext:
    """The operator's session, or a redirect to the login page that comes back here."""
    ctx = await auth.authenticate(request)
    if ctx is None:
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
    return ctx


async def login_page(request: web.Request) -> web.Response:
    if await auth.authenticate(request) is not None:
        return redirect(local_path(request.query.get("next")))
    return Page(request, None).render("login.html", next=local_path(request.query.get("next"), ""))


async def login_submit(request: web.Request) -> web.Response:
    page = Page(request, None)
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    form = await request.post()
    login = str(form.get("login", "")).strip()
    password = str(form.get("password", ""))
    target = local_path(str(form.get("next", "")))
    try:
        operator, token, _csrf = await auth.login_with_password(request, login, password, "cookie")
    except auth.AuthError as err:
        message = LOGIN_ERRORS.get(err.code)
        error = page.gettext(message) if message else err.message
        return page.render("login.html", http_status=err.status, error=error, login=login, next=target)
    # Signing in to the console is starting a shift: the operator becomes available.
    async with request.app[sessions_key]() as session:
        await do_set_presence(session, request.app[events_key], operator.id, Presence.ONLINE)
    response = redirect(target)
    auth.set_session_cookie(response, token, request.app[settings_key])
    return response


async def logout(request: web.Request) -> web.Response:
    ctx = await auth.authenticate(request)
    if ctx is not None:
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not ctx.csrf or not hmac.compare_digest(sent.encode(), ctx.csrf.encode()):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
        await auth.logout(request)
    response = redirect("/login")
    auth.clear_session_cookie(response)
    return response


async def set_language(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    form = await request.post()
    lang = str(form.get("lang", ""))
    response = redirect(local_path(str(form.get("next", ""))))
    if lang in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=YEAR, path="/", samesite="Lax", httponly=True)
    return response


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


async def inbox(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    view = _choice(request.query.get("view"), pagedata.VIEWS, "all")
    status = _choice(request.query.get("status"), pagedata.STATUS_FILTERS, "open")
    sort = _choice(request.query.get("sort"), pagedata.SORTS, "recent")
    sla_state = _choice(request.query.get("sla_state"), pagedata.SLA_FILTERS, "any")
    async with request.app[sessions_key]() as session:
        counts = await pagedata.counts(session, ctx.scope, status, sla_state)
        rows, next_cursor = await pagedata.inbox_rows(session, ctx.scope, view, status, sort, sla_state)
    data = {
        "page": "inbox",
        "view": view,
        "status": status,
        "sort": sort,
        "sla_state": sla_state,
        "teams": sorted(ctx.scope.team_ids),
        "next_cursor": next_cursor,
        "page_size": pagedata.LIST_LIMIT,
        "conversations": [conversation_dict(r.conversation, r.unread) | {"preview": r.preview_dict()} for r in rows],
    }
    return Page(request, ctx).render(
        "inbox.html",
        data=data,
        view=view,
        status=status,
        sort=sort,
        sla_state=sla_state,
        counts=counts,
        rows=rows,
        next_cursor=next_cursor,
        views=pagedata.VIEWS,
        statuses=pagedata.STATUS_FILTERS,
        sorts=pagedata.SORTS,
        sla_filters=pagedata.SLA_FILTERS,
    )


async def inbox_counts(request: web.Request) -> web.Response:
    """Tab counts for the live inbox (the API lists one view at a time)."""
    ctx = await auth.authenticate(request)
    if ctx is None:
        return web.json_response({"error": {"code": "unauthorized", "message": "sign in first"}}, status=401)
    status = _choice(request.query.get("status"), pagedata.STATUS_FILTERS, "open")
    sla_state = _choice(request.query.get("sla_state"), pagedata.SLA_FILTERS, "any")
    async with request.app[sessions_key]() as session:
        counts = await pagedata.counts(session, ctx.scope, status, sla_state)
    return web.json_response(counts, headers={"Cache-Control": "no-store"})


async def conversation(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    try:
        conversation_id = int(request.match_info["id"])
    except ValueError:
        return page.render("not_found.html", http_status=404)
    async with request.app[sessions_key]() as session:
        try:
            found = await visible_conversation(session, ctx.scope, conversation_id)
        except ActionError:
            return page.render("not_found.html", http_status=404)
        await do_mark_read(session, ctx.scope, found.id)
        data = await pagedata.conversation_page(session, ctx.scope, found)
        sender = await conversation_identity(session, found)
        # What a public reply from this operator gets added, shown under the reply box.
        sign = request.app.get(reply_signature_key)
        reply_signature = await sign(session, data.conversation, ctx.operator.id) if sign else ""
    channel = request.app[channels_key].get((found.channel, found.inbox))
    blockable = sender is not None and channel is not None and bool(channel.features & ChannelFeature.BLOCK_SENDER)
    script = {
        "page": "conversation",
        "conversation": conversation_dict(data.conversation),
        "last_message_id": data.messages[-1].id if data.messages else None,
        "message_ids": [m.id for m in data.messages],
    }
    return page.render(
        "conversation.html",
        data=script,
        c=data.conversation,
        messages=data.messages,
        contact=data.contact,
        identities=[identity_dict(i) for i in data.contact.identities],
        previous=data.previous,
        previews=data.previews,
        operators=pagedata.assignable(data, ctx.scope),
        teams=data.teams,
        source=pagedata.source_items(data.conversation.source or {}),
        blockable=blockable,
        sender_blocked=sender is not None and sender.state == IdentityState.BLOCKED,
        reply_signature=reply_signature,
    )


def make_environment(translations: Translations) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=preloaded_templates(),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    install(environment)
    environment.globals["channels"] = tuple(CHANNELS)
    environment.filters["email_html"] = render_html
    environment.filters["email_meta"] = email_meta
    environment.tests["has_inline_images"] = has_inline_images
    return environment


def setup(app: web.Application) -> None:
    """Add the console pages and static files."""
    translations = Translations.load(app[settings_key].console.default_locale)
    app[translations_key] = translations
    app[templates_key] = make_environment(translations)
    app[templates_key].globals["sms_max_segments"] = {g.name: g.max_segments for g in app[settings_key].channels.sms}
    app[static_key] = load_static()
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/lang", set_language)
    app[nav_key].append(NavItem("inbox", "/", N_("Inbox"), EVERYONE, "nav-inbox", order=0))
    app.router.add_get("/", inbox)
    app.router.add_get("/inbox/counts", inbox_counts)
    app.router.add_get("/conversations/{id}", conversation)
