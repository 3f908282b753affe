"""TLS for IMAP: the certificate-checking SSL context, and STARTTLS, which aioimaplib 2.0 lacks.

aioimaplib knows the STARTTLS command but never upgrades its transport, so `starttls` sends it and
then wraps the live connection with `loop.start_tls` (RFC 3501 6.2.1, RFC 2595). A server that does
not offer STARTTLS is refused: the password is never sent in the clear because TLS was missing.
"""

from __future__ import annotations

import asyncio
import ssl

import aioimaplib


class ImapTlsError(ConnectionError):
    """TLS could not be set up with the IMAP server; the session ends before logging in."""


def ssl_context(ca_file: str = "") -> ssl.SSLContext:
    """A client context that verifies the server's certificate and host name.

    Args:
        ca_file: a PEM file of CA certificates to trust instead of the system's (a self-signed server).
    """
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)


async def starttls(client: aioimaplib.IMAP4, context: ssl.SSLContext, server_hostname: str) -> None:
    """Upgrade a connected, not yet authenticated `client` to TLS, then re-read the capabilities.

    Raises:
        ImapTlsError: the server does not offer STARTTLS, refuses it, or the handshake fails
            (including a certificate that does not verify).
    """
    if not client.has_capability("STARTTLS"):
        raise ImapTlsError("the IMAP server does not offer STARTTLS; refusing to log in without TLS")
    protocol = client.protocol
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    response = await asyncio.wait_for(protocol.execute(command), client.timeout)
    if response.result != "OK":
        raise ImapTlsError(f"the IMAP server refused STARTTLS: {response.lines[-1]!r}")
    # Anything the server sent after its OK came in the clear: drop it (a STARTTLS injection).
    protocol.incomplete_line = b""
    protocol.current_command = None
    loop = asyncio.get_running_loop()
    try:
        transport = await loop.start_tls(
            protocol.transport,
            protocol,
            context,
            server_hostname=server_hostname,
            ssl_handshake_timeout=client.timeout,
        )
    except (ssl.SSLError, OSError, TimeoutError) as err:
        raise ImapTlsError(f"IMAP STARTTLS handshake failed: {err}") from err
    if transport is None:
        raise ImapTlsError("IMAP STARTTLS: the connection closed during the handshake")
    # start_tls does not call connection_made again: point the protocol at the TLS transport.
    protocol.transport = transport
    # RFC 3501 6.2.1: capabilities learnt before TLS must be discarded (a MITM could have edited them).
    protocol.capabilities = set()
    await asyncio.wait_for(protocol.capability(), client.timeout)
