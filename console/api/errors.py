"""One error shape for the whole API: `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from lines.console.actions import ActionError
from lines.console.api.integrity import integrity_answer
from lines.console.auth import AuthError

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class ApiError(Exception):
    """A refused request raised by an API handler."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def to_response(err: Exception) -> web.Response | None:
    """The JSON error for a known exception, or None for anything unexpected."""
    if isinstance(err, ApiError):
        return error_response(err.status, err.code, err.message, err.headers)
    if isinstance(err, AuthError):
        headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
        return error_response(err.status, err.code, err.message, headers)
    if isinstance(err, ActionError):
        return error_response(err.status, err.code, err.message)
    if isinstance(err, IntegrityError):
        return error_response(*integrity_answer(err))
    if isinstance(err, web.HTTPException) and err.status >= 400:
        headers = {k: v for k, v in err.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(err.status, _HTTP_CODES.get(err.status, "http_error"), err.reason, headers)
    return None


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Under /api/, every failure (ours, aiohttp's 404/405/413, or a bug) becomes the JSON error shape."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except asyncio.CancelledError:
        raise
    except Exception as err:
        response = to_response(err)
        if response is not None:
            return response
        if isinstance(err, web.HTTPException):  # redirects and other non-errors pass through
            raise
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; it has been logged")
