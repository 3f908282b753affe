"""Small HTTP handlers of the widget: its script, its per-site settings, and the demo shop page."""

from __future__ import annotations

from aiohttp import web

from lines.channels.webchat.guard import Refused, check_origin, cors_headers, site_for
from lines.channels.webchat.state import templates_key, webchat_key
from lines.channels.webchat.upload import upload_limit
from lines.console.views import secure, static_url

DEMO_SITE = "demo"
SCRIPT_MAX_AGE = 300


async def widget_js(request: web.Request) -> web.StreamResponse:
    """GET /webchat/widget.js: one script for every site (the site key is on its tag)."""
    state = request.app[webchat_key]
    headers = {
        "Cache-Control": f"public, max-age={SCRIPT_MAX_AGE}",
        "ETag": state.widget_etag,
        # Pages with Cross-Origin-Embedder-Policy may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if state.widget_etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=state.widget_js, content_type="application/javascript", charset="utf-8", headers=headers)


async def site_config(request: web.Request) -> web.Response:
    """GET /webchat/{site_key}/config: what the widget shows before it connects."""
    settings = request.app[webchat_key].context.settings
    try:
        site = site_for(request, settings)
        origin = check_origin(request, settings, site, required=False)
    except Refused as refused:
        return refused.response()
    body = {
        "site_key": site.site_key,
        "title": site.title,
        "welcome": site.welcome,
        "max_message_chars": site.max_message_chars,
        "max_upload_bytes": upload_limit(settings, site),
        "attachment_types": site.upload_types(settings.storage.attachment_types),
        "identity": bool(site.identity_secret.get_secret_value()),
    }
    return web.json_response(body, headers=cors_headers(origin, **{"Cache-Control": "public, max-age=60"}))


async def demo_page(request: web.Request) -> web.Response:
    """GET /demo: a fake shop with the widget, as a customer's site would embed it."""
    settings = request.app[webchat_key].context.settings
    base = settings.server.public_url or f"{request.scheme}://{request.host}"
    site = settings.webchat_site(DEMO_SITE)
    assert site is not None  # the route exists only when the demo site is configured
    html = (
        request.app[templates_key]
        .get_template("demo.html")
        .render(
            widget_src=f"{base}/webchat/widget.js",
            site_key=DEMO_SITE,
            chat_title=site.title,
            stylesheet=static_url(request.app, "demo.css"),
        )
    )
    return secure(web.Response(text=html, content_type="text/html", charset="utf-8"))
