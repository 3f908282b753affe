"""Sending one message through an SMTP server, with the answer sorted into temporary or permanent.

Shared by the email channel's outgoing side and staff mail (`sla/staff_mail.py`), so both read the
same `smtp_*` settings (`console/config_base.py::SmtpServer`) and treat a refusal the same way:
4xx and connection problems are worth another attempt, 5xx is final (RFC 5321 §4.2.1).
"""

from __future__ import annotations

import asyncio
import socket
from email.message import EmailMessage

import aiosmtplib

from lines.channels.base import PermanentDeliveryError, TemporaryDeliveryError
from lines.console.config_base import SmtpServer


class SmtpClient:
    """Sends through one configured server; remembers this host's name for EHLO."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._ehlo_name: str | None = None

    async def send(self, mail: EmailMessage) -> None:
        """Raises `TemporaryDeliveryError` (retry later) or `PermanentDeliveryError` (give up)."""
        server = self.server
        if not server.smtp_host:
            raise PermanentDeliveryError("no smtp_host is configured")
        if self._ehlo_name is None:  # aiosmtplib would look it up (DNS) on every connection
            self._ehlo_name = await asyncio.to_thread(socket.getfqdn)
        try:
            await aiosmtplib.send(
                mail,
                hostname=server.smtp_host,
                port=server.smtp_port,
                username=server.smtp_user or None,
                password=server.smtp_password.get_secret_value() or None,
                use_tls=server.smtp_tls == "ssl",
                start_tls=server.smtp_tls == "starttls",
                timeout=server.smtp_timeout_seconds,
                local_hostname=self._ehlo_name,
            )
        except aiosmtplib.SMTPResponseException as err:
            text = f"SMTP {err.code}: {err.message}"
            if 400 <= err.code < 500:
                raise TemporaryDeliveryError(text) from err
            raise PermanentDeliveryError(text) from err
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            text = "; ".join(f"SMTP {r.code}: {r.message}" for r in err.recipients)
            if codes and all(400 <= c < 500 for c in codes):
                raise TemporaryDeliveryError(text) from err
            raise PermanentDeliveryError(text) from err
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise TemporaryDeliveryError(f"SMTP unavailable: {err}") from err
