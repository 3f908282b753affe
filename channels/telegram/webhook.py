"""The webhook endpoint: authenticate, parse, store, and only then answer 200.

403 for a wrong Content-Type or a missing/wrong secret (compared in constant time), 400 for JSON that
is not an Update, 404 for an unknown bot; 500 when the store fails, so Telegram sends it again.
Nothing is stored in any of these cases.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from telegram import Update

if TYPE_CHECKING:
    from lines.channels.telegram.adapter import TelegramChannel

log = logging.getLogger(__name__)
bots_key: web.AppKey[dict[str, TelegramChannel]] = web.AppKey("telegram_bots", dict)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


async def webhook(request: web.Request) -> web.Response:
    bot = request.app[bots_key].get(request.match_info["name"])
    if bot is None or bot.config.mode != "webhook":
        raise web.HTTPNotFound()
    expected = bot.config.secret_token.get_secret_value().encode()
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not expected or not hmac.compare_digest(given, expected):
        raise web.HTTPForbidden(text="wrong secret token")
    if request.content_type != "application/json":
        raise web.HTTPForbidden(text="expected application/json")
    try:
        data = json.loads(await request.read())
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = Update.de_json(data, bot.bot)
    except Exception as err:
        raise web.HTTPBadRequest(text=f"not a Telegram update: {type(err).__name__}") from err
    try:
        await bot.handle_update(update)
    except Exception:
        log.exception("telegram %s: update %s not stored; Telegram will send it again", bot.name, update.update_id)
        raise web.HTTPInternalServerError(text="not stored") from None
    return web.json_response({"ok": True})
