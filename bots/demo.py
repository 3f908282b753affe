"""The demo shop's knowledge base (`lines demo`)."""

from __future__ import annotations

from pathlib import Path

from lines.bots.kb import load_dir
from lines.bots.store import import_articles
from lines.console.db import SessionMaker

DEMO_KB = Path(__file__).resolve().parent.parent / "config" / "kb"


async def seed_demo_kb(sessions: SessionMaker) -> None:
    """The demo shop's knowledge base (config/kb), imported like `lines kb import` (idempotent)."""
    if DEMO_KB.is_dir():
        await import_articles(sessions, load_dir(DEMO_KB))
