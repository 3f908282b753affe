"""What a config section is built from: the error type, the strict section base, shared field types.

Kept apart from `console/settings.py` so that each channel's `config.py` can build its block from them
while the settings assemble those blocks from the channel registry, without an import cycle.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the problem."""


class Section(BaseModel):
    """A table of the config file: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A channel block's name: it appears in URLs (`/channels/telegram/{name}/webhook`) and channel keys."""


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone like Europe/Moscow") from None
    return value


TimeZone = Annotated[str, AfterValidator(_time_zone)]


EMAIL_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{1,63}$")
"""A plain address (`name@host.example`): no display name, no comments, at most 254 characters."""


def check_email_address(value: str) -> str:
    """`value` stripped, or ValueError saying what a usable address looks like."""
    value = value.strip()
    if len(value) > 254 or not EMAIL_ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an email address like name@example.com")
    return value


class SmtpServer(Section):
    """An SMTP server to send through: the support mailboxes' outgoing side and staff mail share it."""

    smtp_host: str = ""
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 465
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: Literal["ssl", "starttls", "none"] = "ssl"
    smtp_timeout_seconds: Annotated[float, Field(gt=0)] = 30
