"""Real mail servers on loopback for the email tests: a private Dovecot and an aiosmtpd sink.

Dovecot runs from its own config in a temporary directory (never the system service), on a free
port, with plaintext auth; each test gets a fresh user (a static passdb: any name, one password).
The SMTP sink keeps what it receives and can be told to refuse with a code.
"""

from __future__ import annotations

import asyncio
import imaplib
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def make_certificate(work: Path, name: str = "imap") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day: (cert, key) PEM files.

    It is its own CA, so a client that trusts the certificate file verifies the server with it.
    """
    cert, key = work / f"{name}.crt", work / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    cert.chmod(0o644)
    key.chmod(0o644)  # read by Dovecot's login processes; a throwaway key in a temp dir
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


CONFIG = """
base_dir = {work}/run
state_dir = {work}/state
log_path = {work}/dovecot.log
info_log_path = {work}/dovecot.log
listen = 127.0.0.1
protocols = imap
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:~/Maildir
imap_idle_notify_interval = 2 mins
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={work}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    work: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: uuid.uuid4().hex)
    process: subprocess.Popen[bytes] | None = None
    tls: tuple[Path, Path] | None = None
    """(certificate, key) PEM files: Dovecot then offers STARTTLS on its one plain port."""

    @property
    def config(self) -> Path:
        return self.work / "dovecot.conf"

    def start(self) -> None:
        for sub in ("run", "state", "mail"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.work / "mail", "nobody", "nogroup")
        ssl = "ssl = no"
        if self.tls is not None:
            ssl = f"ssl = yes\nssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}"
        self.config.write_text(CONFIG.format(work=self.work, port=self.port, password=self.password, ssl=ssl))
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while not _listening(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot did not listen in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        deadline = time.monotonic() + 10
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def add_user(self) -> tuple[str, str]:
        """A fresh, empty mailbox: every user name logs in with the one password (a static passdb)."""
        return f"u{uuid.uuid4().hex[:10]}", self.password

    def imap(self, user: str, password: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(user, password)
        return client

    def append(self, user: str, password: str, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.imap(user, password)
        try:
            for raw in messages:
                client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
        finally:
            client.logout()

    def flags(self, user: str, password: str, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> flags of every message in `folder`."""
        client = self.imap(user, password)
        try:
            client.select(folder)
            _status, data = client.uid("fetch", "1:*", "(UID FLAGS)")
            out = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    parts = line.decode()
                    uid = int(parts.split("UID ", 1)[1].split()[0].rstrip(")"))
                    out[uid] = line
            return out
        finally:
            client.logout()

    def create_folder(self, user: str, password: str, folder: str) -> None:
        client = self.imap(user, password)
        try:
            client.create(folder)
        finally:
            client.logout()


def mailbox_toml(
    dovecot: Dovecot, user: str, password: str, address: str = "support@lines.test", **extra: object
) -> str:
    """A `[[channels.email]]` block for `lines serve` reading `user`'s mailbox on `dovecot` over plain
    IMAP, with `extra` settings (strings quoted, numbers as they are)."""
    settings: dict[str, object] = {
        "name": "support",
        "address": address,
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "imap_user": user,
        "imap_password": password,
        "imap_tls": "none",
        **extra,
    }
    body = "".join(
        f'{key} = "{value}"\n' if isinstance(value, str) else f"{key} = {value}\n" for key, value in settings.items()
    )
    return "[[channels.email]]\n" + body


class Sink:
    """aiosmtpd handler: keeps every message; `refuse` = (code, text) answers DATA with that;
    `delay` seconds pass before it answers DATA (a slow server), with `receiving` true meanwhile.
    It runs on its own thread and loop, so tests poll `receiving` rather than wait on it."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse: tuple[int, str] | None = None
        self.delay = 0.0
        self.receiving = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            self.receiving = True
            await asyncio.sleep(self.delay)
            self.receiving = False
        if self.refuse is not None:
            return f"{self.refuse[0]} {self.refuse[1]}"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def start_sink() -> tuple[Controller, Sink]:
    sink = Sink()
    # server_hostname: aiosmtpd would otherwise call socket.getfqdn() (a DNS lookup) per connection.
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), server_hostname="sink.test")
    controller.start()
    return controller, sink
