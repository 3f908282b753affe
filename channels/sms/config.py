"""A `[[channels.sms]]` block: one number behind a gateway provider."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from lines.console.config_base import Name, Section


class SmsGateway(Section):
    """One SMS number behind a gateway provider."""

    name: Name
    provider: Literal["kannel", "twilio"]
    number: str
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "RU"
    team: str | None = None
    sendsms_url: str = ""
    username: str = ""
    password: SecretStr = SecretStr("")
    inbound_secret: SecretStr = SecretStr("")
    api_base_url: str = ""
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    max_segments: Annotated[int, Field(ge=1, le=20)] = 6
    opt_out_keywords: list[str] = ["STOP", "СТОП", "ОТПИСКА", "UNSUBSCRIBE"]
    opt_in_keywords: list[str] = ["START", "СТАРТ"]
    request_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 15.0
