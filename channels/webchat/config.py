"""A `[[channels.webchat]]` block: one site that embeds the widget."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, SecretStr, field_validator

from lines.console.config_base import Section, TimeZone


class WebchatSite(Section):
    site_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    origins: list[str] = []
    identity_secret: SecretStr = SecretStr("")
    identity_required: bool = False
    team: str | None = None
    time_zone: TimeZone | None = None
    """IANA zone of times shown to visitors ("back Monday 09:00"); default: the SLA calendar's."""
    title: str = "Chat with us"
    welcome: str = ""
    max_message_chars: Annotated[int, Field(ge=1, le=100_000)] = 4000
    messages_per_minute: Annotated[int, Field(ge=1)] = 30
    new_conversations_per_ip_per_hour: Annotated[int, Field(ge=0)] = 60
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    attachment_types: list[str] | None = None
    """Content types visitors of this site may upload; unset: `storage.attachment_types` (images, PDF,
    text, office documents, ZIP). Programs and scripts are refused whatever this says."""

    def upload_types(self, default: list[str]) -> list[str]:
        return [t.lower() for t in (default if self.attachment_types is None else self.attachment_types)]

    @field_validator("origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for value in values:
            if value != "*" and not re.match(r"^https?://[^/\s]+$", value):
                raise ValueError(f"{value!r} is not an origin like https://shop.example (no path) or '*'")
        return [v.rstrip("/") for v in values]
