"""A `[[channels.telegram]]` block: one bot."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from lines.console.config_base import Name, Section


class TelegramBot(Section):
    """One Telegram bot."""

    name: Name
    token: SecretStr
    mode: Literal["webhook", "polling"] = "polling"
    webhook_url: str = ""
    secret_token: SecretStr = SecretStr("")
    api_base_url: str = "https://api.telegram.org/bot"
    team: str | None = None
    poll_timeout: Annotated[int, Field(ge=0, le=50)] = 25
    inbound_per_minute: Annotated[int, Field(ge=1)] = 30
