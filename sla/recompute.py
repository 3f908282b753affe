"""Recomputes every open conversation's deadlines after a new policy document, in the background.

`PUT /api/v1/sla/policies` stores the document and a marker (`recompute_version`, `recompute_cursor`)
in one transaction and answers at once. In every process this periodic job claims the marker with a
lease (a conditional `UPDATE`, so one worker at a time), re-matches the open conversations in batches
of ascending id, moves the cursor after each batch and, at the end, clears the marker and tells the
consoles (`sla.recomputed`). Recomputing a conversation twice gives the same deadlines, so a worker
that dies between a batch and its cursor update only makes the next one repeat that batch; a graceful
stop hands the lease back at once, a crash after `lease_seconds`. A newer document resets the marker,
and the worker on the older one notices at its next cursor update and stops.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.periodic import Periodic
from lines.sla.models import SlaPolicyDocument
from lines.sla.service import SlaService

log = logging.getLogger(__name__)
BATCH = 200
LEASE_SECONDS = 30.0


class Recompute(Periodic):
    """The recompute job of one process; `tick()` runs a pending recompute to its end."""

    name = "sla-recompute"

    def __init__(
        self,
        service: SlaService,
        sessions: SessionMaker,
        events: Events,
        interval: float,
        batch: int = BATCH,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        super().__init__(interval)
        self._service = service
        self._sessions = sessions
        self._events = events
        self._batch = batch
        self._lease = timedelta(seconds=lease_seconds)
        self._owner = uuid.uuid4().hex
        self.recomputed = 0

    async def stop(self) -> None:
        """Stop, and hand a held lease back so that the next start (or another worker) goes on at once."""
        await super().stop()
        try:
            await self._release()
        except SQLAlchemyError as err:
            log.warning("SLA recompute lease not released (it expires by itself): %s", err)

    async def tick(self) -> int:
        """Claim a pending recompute and run it; returns how many conversations this call recomputed."""
        claimed = await self._claim()
        if claimed is None:
            return 0
        version, cursor = claimed
        await self._service.refresh_policies()
        if self._service.version != version:
            # A newer document is being saved: its own marker follows; never recompute with the old one.
            await self._release()
            return 0
        done = 0
        while True:
            ids = await self._service.recompute_batch(cursor, self._batch)
            done += len(ids)
            self.recomputed += len(ids)
            finished = len(ids) < self._batch
            cursor = ids[-1] if ids else cursor
            if not await self._advance(version, cursor, finished):
                log.info("SLA recompute of version %s taken over or superseded", version)
                return done
            if finished:
                log.info("SLA deadlines recomputed under policy version %s", version)
                await self._events.send("sla.recomputed", {"version": version}, Audience(everyone=True))
                return done

    async def _claim(self) -> tuple[int, int] | None:
        now = self._service.clock()
        # A read first: most ticks find nothing to do, and should not take a write lock for it.
        async with self._sessions() as session:
            pending = await session.scalar(select(SlaPolicyDocument.recompute_version).where(SlaPolicyDocument.id == 1))
        if pending is None:
            return None
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(SlaPolicyDocument)
                .where(
                    SlaPolicyDocument.id == 1,
                    SlaPolicyDocument.recompute_version.is_not(None),
                    or_(
                        SlaPolicyDocument.recompute_lease_until.is_(None),
                        SlaPolicyDocument.recompute_lease_until < now,
                        SlaPolicyDocument.recompute_owner == self._owner,
                    ),
                )
                .values(recompute_owner=self._owner, recompute_lease_until=now + self._lease)
                .returning(SlaPolicyDocument.recompute_version, SlaPolicyDocument.recompute_cursor)
            )
            row = result.first()
        # The update matched only a pending version, so a returned row's version is never None.
        return (int(row[0]), int(row[1])) if row is not None and row[0] is not None else None

    async def _advance(self, version: int, cursor: int, finished: bool) -> bool:
        """Move the cursor (and renew the lease), or clear the marker; False when no longer ours."""
        now = self._service.clock()
        values: dict[str, object]
        if finished:
            values = {
                "recompute_version": None,
                "recompute_cursor": 0,
                "recompute_owner": None,
                "recompute_lease_until": None,
                "recomputed_at": now,
            }
        else:
            values = {"recompute_cursor": cursor, "recompute_lease_until": now + self._lease}
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(SlaPolicyDocument)
                .where(
                    SlaPolicyDocument.id == 1,
                    SlaPolicyDocument.recompute_version == version,
                    SlaPolicyDocument.recompute_owner == self._owner,
                )
                .values(**values)
            )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def _release(self) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SlaPolicyDocument)
                .where(SlaPolicyDocument.id == 1, SlaPolicyDocument.recompute_owner == self._owner)
                .values(recompute_owner=None, recompute_lease_until=None)
            )
