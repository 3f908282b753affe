"""Styled 403, 404 and 500 pages for people in a browser, in the console's language, with a way back.

Only requests that ask for HTML (a browser's navigation sends `Accept: text/html`) outside `/api/` get
a page; the API keeps its JSON errors and scripts, widgets and webhooks get the handler's own answer.
A failure in a handler is logged with its traceback and the page shows none of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from lines.console import auth
from lines.console.api.errors import API_PREFIX
from lines.console.i18n import N_
from lines.console.views import Page

log = logging.getLogger(__name__)

ERRORS = {
    403: (N_("No access"), N_("This page is not available with your role. Ask an administrator if you need it.")),
    404: (N_("Page not found"), N_("There is no such page: the link may be mistyped or out of date.")),
    500: (N_("Something went wrong"), N_("The error has been logged. Try again in a moment.")),
}


def wants_page(request: web.Request) -> bool:
    return not request.path.startswith(API_PREFIX) and "text/html" in request.headers.get("Accept", "")


async def error_page(request: web.Request, status: int) -> web.Response:
    """The page for `status`; the plain reason if even that cannot be drawn (say, the database is down)."""
    try:
        try:
            ctx = await auth.authenticate(request)
        except Exception:
            log.exception("error page for %s: the session could not be read", request.path)
            ctx = None
        title, text = ERRORS[status]
        return Page(request, ctx).render("error.html", http_status=status, status=status, title=title, text=text)
    except Exception:
        log.exception("error page for %s could not be rendered", request.path)
        return web.Response(status=status, text=f"{status}: {HTTPStatus(status).phrase}")


@web.middleware
async def error_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not wants_page(request):
        return await handler(request)
    try:
        return await handler(request)
    except asyncio.CancelledError:
        raise
    except web.HTTPException as err:
        if err.status not in ERRORS:
            raise
        return await error_page(request, err.status)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return await error_page(request, 500)
