"""Serving stored attachments to operators: token and visibility checked, never rendered inline as HTML.

The URL carries a random token (compared in constant time), but the token is not the only control:
the operator must be signed in and allowed to see the conversation (docs/reliability.md#attachment-access).
Files are sent as downloads with `nosniff` and a sandboxing CSP; only raster images may be shown
inline, and only with their stored type.
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from lines.console.auth import authenticate
from lines.console.inbox import load_conversation
from lines.console.inline_images import INLINE_TYPES
from lines.console.keys import files_key, sessions_key
from lines.console.models import Attachment
from lines.console.storage import FileStore


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(
        text='{"error": {"code": "not_found", "message": "attachment not found"}}', content_type="application/json"
    )


async def download(request: web.Request) -> web.StreamResponse:
    context = await authenticate(request)
    if context is None:
        raise web.HTTPUnauthorized(
            text='{"error": {"code": "unauthenticated", "message": "sign in first"}}', content_type="application/json"
        )
    try:
        attachment_id = int(request.match_info["id"])
    except ValueError:
        raise _not_found() from None
    token = request.match_info["token"]
    async with request.app[sessions_key]() as session:
        attachment = await session.get(Attachment, attachment_id)
        conversation = (
            await load_conversation(session, attachment.conversation_id)
            if attachment is not None and attachment.conversation_id is not None
            else None
        )
    if (
        attachment is None
        or not hmac.compare_digest(attachment.token.encode(), token.encode())
        or conversation is None
        or not context.scope.can_see_conversation(conversation)
        or not attachment.stored
        or not attachment.storage_path
    ):
        raise _not_found()
    path = await asyncio.to_thread(_stored_file, request.app[files_key], attachment.storage_path)
    if path is None:
        raise _not_found()
    inline = request.query.get("inline") == "1" and attachment.content_type in INLINE_TYPES
    content_type = attachment.content_type if inline else "application/octet-stream"
    disposition = "inline" if inline else "attachment"
    response = web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(attachment.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )
    return response


def _stored_file(files: FileStore, storage_path: str) -> Path | None:
    """The file's path if it is there (resolving and checking touch the disk: run in a thread)."""
    path = files.path(storage_path)
    return path if path.is_file() else None


def setup(app: web.Application) -> None:
    app.router.add_get("/attachments/{id}/{token}", download)
