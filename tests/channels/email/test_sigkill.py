"""Crash safety: `lines serve` killed with SIGKILL while ingesting 1,000 emails, then started again.

Every email ends up stored exactly once: the UID cursor is saved after each message is stored, and
a message fetched again after the crash is recognised by its Message-ID (or content hash).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from email.utils import formataddr
from pathlib import Path

import pytest

from tests.channels.email.conftest import SUPPORT, compose
from tests.channels.email.servers import Dovecot, free_port, mailbox_toml

pytestmark = pytest.mark.multiprocess
TOTAL = 1000
CHARSETS = ("utf-8", "koi8-r", "windows-1251")


def mixed_emails(n: int) -> list[bytes]:
    """Customers writing in three charsets; every 10th has no Message-ID, every 4th is a reply."""
    out = []
    for i in range(n):
        customer = f"customer{i % 97}@example.org"
        out.append(
            compose(
                formataddr((f"Клиент {i % 97}", customer), charset="utf-8"),
                f"Заказ {i}",
                f"Письмо номер {i}: где мой заказ?",
                message_id=None if i % 10 == 9 else f"crash-{i}@example.org",
                in_reply_to=f"crash-{i - 4}@example.org" if i % 4 == 3 and i >= 4 else None,
                charset=CHARSETS[i % 3],
            )
        )
    return out


def stored(db: Path) -> tuple[int, int]:
    """(inbound messages, distinct external ids) as the store sees them now."""
    if not db.exists():
        return 0, 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT external_id) FROM messages WHERE direction = 'in'"
            ).fetchone()
    except sqlite3.OperationalError:  # not migrated yet, or locked for a moment
        return 0, 0
    return int(row[0]), int(row[1])


def serve(tmp_path: Path, dovecot: Dovecot, user: str, log: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "lines.toml"
    mailbox = mailbox_toml(
        dovecot,
        user,
        dovecot.password,
        SUPPORT,
        smtp_host="127.0.0.1",
        smtp_port=9,
        smtp_tls="none",
        reconnect_min_seconds=0.2,
    )
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
{mailbox}""",
        encoding="utf-8",
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LINES_")},
        "LINES_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}",
        "LINES_DATA_DIR": str(tmp_path / "data"),
        "LINES_SECRET_KEY": "sigkill-test-secret-0123456789",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lines.console.cli", "serve", "--port", str(free_port()), "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_for(db: Path, process: subprocess.Popen[bytes], log: Path, at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while stored(db)[0] < at_least:
        if process.poll() is not None:
            pytest.fail(f"lines serve exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"only {stored(db)[0]} of {at_least} stored:\n{log.read_text(errors='replace')[-4000:]}")
        await asyncio.sleep(0.05)


async def test_sigkill_mid_ingest_then_restart_stores_every_email_exactly_once(
    tmp_path: Path, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    await asyncio.to_thread(dovecot.append, *mail_user, *mixed_emails(TOTAL))
    db, log = tmp_path / "lines.db", tmp_path / "serve.log"
    first = serve(tmp_path, dovecot, mail_user[0], log)
    try:
        await wait_for(db, first, log, 150, timeout=120)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = stored(db)[0]
    assert 0 < at_kill < TOTAL, "the kill must land mid-ingest"
    second = serve(tmp_path, dovecot, mail_user[0], log)
    try:
        await wait_for(db, second, log, TOTAL, timeout=300)
        await asyncio.sleep(1.0)  # nothing more arrives
        assert stored(db) == (TOTAL, TOTAL)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()
