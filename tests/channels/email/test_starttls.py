"""IMAP STARTTLS against a real Dovecot (`ssl = yes`, a self-signed certificate made per session)."""

from __future__ import annotations

import logging
from pathlib import Path

import aioimaplib
import pytest

from lines.channels.email.imap_tls import ImapTlsError, ssl_context, starttls
from lines.console.app import create_app
from lines.console.settings import ConfigError
from tests.api.helpers import eventually
from tests.channels.email.conftest import MakeClient, channel_of, compose, mailbox
from tests.channels.email.servers import Dovecot, Sink
from tests.channels.email.test_imap import count_inbound
from tests.conftest import Database, make_settings


def certificate(server: Dovecot) -> str:
    assert server.tls is not None
    return str(server.tls[0])


async def connected(server: Dovecot) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    await client.wait_hello_from_server()
    return client


async def test_mail_is_read_over_starttls(make_email_client: MakeClient, tls_dovecot: Dovecot) -> None:
    user, password = tls_dovecot.add_user()
    client = await make_email_client(
        imap_port=tls_dovecot.port,
        imap_user=user,
        imap_password=password,
        imap_tls="starttls",
        imap_ca_file=certificate(tls_dovecot),
    )
    tls_dovecot.append(user, password, compose("ivan@example.org", "TLS", "Over TLS", message_id="tls1@example.org"))

    async def arrived() -> bool:
        return await count_inbound(client) == 1

    await eventually(arrived)
    imap = channel_of(client)._client
    assert imap is not None
    assert imap.protocol.transport.get_extra_info("ssl_object") is not None  # the session really is TLS
    log = (tls_dovecot.work / "dovecot.log").read_text()
    assert f"user=<{user}>" in log and "TLS" in log


async def test_starttls_upgrades_the_connection_and_rereads_capabilities(tls_dovecot: Dovecot) -> None:
    client = await connected(tls_dovecot)
    assert client.has_capability("STARTTLS")
    await starttls(client, ssl_context(certificate(tls_dovecot)), "127.0.0.1")
    assert client.protocol.transport.get_extra_info("ssl_object") is not None
    assert not client.has_capability("STARTTLS")  # Dovecot stops offering it once TLS is on
    user, password = tls_dovecot.add_user()
    response = await client.login(user, password)
    assert response.result == "OK"
    await client.logout()


async def test_an_untrusted_certificate_is_refused_by_default(tls_dovecot: Dovecot) -> None:
    client = await connected(tls_dovecot)
    with pytest.raises(ImapTlsError, match="CERTIFICATE_VERIFY_FAILED"):
        await starttls(client, ssl_context(), "127.0.0.1")


async def test_a_certificate_for_another_host_is_refused(tls_dovecot: Dovecot) -> None:
    client = await connected(tls_dovecot)
    with pytest.raises(ImapTlsError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
        await starttls(client, ssl_context(certificate(tls_dovecot)), "imap.example.org")


async def test_a_server_without_starttls_is_refused(dovecot: Dovecot) -> None:
    client = await connected(dovecot)  # the plain Dovecot: ssl = no, no STARTTLS
    with pytest.raises(ImapTlsError, match="does not offer STARTTLS"):
        await starttls(client, ssl_context(), "127.0.0.1")
    await client.logout()


async def test_the_mailbox_never_logs_in_in_the_clear_when_starttls_is_missing(
    database: Database,
    tmp_path: Path,
    dovecot: Dovecot,
    sink: Sink,
    aiohttp_client: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = dovecot.add_user()
    settings = make_settings(
        tmp_path, database, channels={"email": [mailbox(dovecot, user, sink, imap_tls="starttls")]}
    )
    caplog.set_level(logging.WARNING, logger="lines.channels.email.adapter")
    client = await aiohttp_client(create_app(settings))  # type: ignore[operator]

    async def refused() -> bool:
        return "does not offer STARTTLS" in caplog.text

    await eventually(refused)
    assert not channel_of(client).connected.is_set()
    assert f"user=<{user[0]}>" not in (dovecot.work / "dovecot.log").read_text()


def test_a_missing_ca_file_is_a_config_error(database: Database, tmp_path: Path, dovecot: Dovecot, sink: Sink) -> None:
    user = dovecot.add_user()
    box = mailbox(dovecot, user, sink, imap_tls="starttls", imap_ca_file=str(tmp_path / "nope.pem"))
    settings = make_settings(tmp_path, database, channels={"email": [box]})
    with pytest.raises(ConfigError, match=r"channels\.email\[0\]\.imap_ca_file: no such file"):
        create_app(settings)
