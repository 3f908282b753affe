"""Telegram: bots on webhook or polling (docs/telegram.md).

Routes:
    POST /channels/telegram/{name}/webhook   Bot API updates, checked by X-Telegram-Bot-Api-Secret-Token
"""

from __future__ import annotations

from aiohttp import web

from lines.channels.base import BaseChannel
from lines.channels.context import ChannelContext
from lines.channels.telegram.adapter import TelegramChannel, webhook_path
from lines.channels.telegram.webhook import bots_key, webhook
from lines.console.settings import ConfigError

__all__ = ["TelegramChannel", "setup"]


def setup(app: web.Application, context: ChannelContext) -> list[BaseChannel]:
    """Add the webhook route and return one channel per configured bot."""
    configs = context.settings.channels.telegram
    if not configs:
        return []
    bots: dict[str, TelegramChannel] = {}
    for config in configs:
        if config.mode == "webhook":
            if not config.webhook_url:
                raise ConfigError(f"channels.telegram {config.name}: webhook mode needs webhook_url")
            if not config.secret_token.get_secret_value():
                raise ConfigError(f"channels.telegram {config.name}: webhook mode needs secret_token")
        bots[config.name] = TelegramChannel(config, context)
    app[bots_key] = bots
    app.router.add_post(webhook_path("{name}"), webhook)

    async def begin(app: web.Application) -> None:
        # on_startup handlers added here run after every cleanup context started (bus consuming).
        for bot in bots.values():
            bot.begin()

    app.on_startup.append(begin)
    return list(bots.values())
