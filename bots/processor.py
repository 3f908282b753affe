"""The bot's change processor: it answers customer messages; other change jobs are not its business."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from lines.bots.engine import Bot
from lines.console.changes import ChangeJob, Inbound


class BotProcessor:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def __call__(self, job: ChangeJob) -> None:
        handler = HANDLERS.get(type(job))
        if handler is not None:
            await handler(self.bot, job)


Handler: TypeAlias = Callable[[Bot, Any], Awaitable[None]]
HANDLERS: Mapping[type[ChangeJob], Handler] = {Inbound: Bot.inbound}
