"""Adapters' cursors in the store, so a restart resumes where it stopped (no database for adapters)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lines.console.db import SessionMaker
from lines.console.models import ChannelState, utcnow


class ChannelStateStore:
    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions

    async def load(self, channel_key: str, key: str) -> Any | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(ChannelState.value).where(ChannelState.channel_key == channel_key, ChannelState.key == key)
            )

    async def save(self, channel_key: str, key: str, value: Any) -> None:
        """Insert or replace; a concurrent first insert by another worker is retried as an update."""
        for _ in range(2):
            try:
                async with self._sessions() as session, session.begin():
                    row = await session.get(ChannelState, (channel_key, key), with_for_update=True)
                    if row is None:
                        session.add(ChannelState(channel_key=channel_key, key=key, value=value))
                    else:
                        row.value = value
                        row.updated_at = utcnow()
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"could not save channel state {channel_key}/{key}")

    async def forget(self, channel_key: str, key: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(ChannelState).where(ChannelState.channel_key == channel_key, ChannelState.key == key)
            )
