"""A `[[channels.email]]` block: one support mailbox."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from lines.console.config_base import Name, SmtpServer, TimeZone


class EmailMailbox(SmtpServer):
    """One support mailbox: IMAP in, SMTP out."""

    name: Name
    address: str
    imap_host: str
    imap_port: Annotated[int, Field(ge=1, le=65535)] = 993
    imap_user: str = ""
    imap_password: SecretStr = SecretStr("")
    imap_tls: Literal["ssl", "starttls", "none"] = "ssl"
    imap_ca_file: str = ""
    imap_folder: str = "INBOX"
    after_fetch: Annotated[str, Field(pattern=r"^(seen|move:.+)$")] = "seen"
    signature: str = ""
    auto_ack: str = "off"
    team: str | None = None
    time_zone: TimeZone | None = None
    """IANA zone of times shown to customers in mails; default: the SLA calendar's."""
    from_name: str = "Support"
    default_subject: str = "Your request"
    idle: bool = True
    idle_seconds: Annotated[float, Field(gt=0, le=1740)] = 300
    poll_seconds: Annotated[float, Field(gt=0)] = 60
    reconnect_min_seconds: Annotated[float, Field(gt=0)] = 1
    reconnect_max_seconds: Annotated[float, Field(gt=0)] = 60
    imap_timeout_seconds: Annotated[float, Field(gt=0)] = 30
