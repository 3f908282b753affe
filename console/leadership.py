"""One reader per named resource (an IMAP mailbox, a polling bot) however many workers run.

A *lease* per name: whoever holds it does the work; the others wait and try again. Three stores:

- Redis (scaled mode): ``SET <p>:lease:{<name>} <token> NX PX <ttl>``, renewed by a Lua
  compare-and-extend, released by a Lua compare-and-delete. A holder that dies stops renewing and the
  key expires after ``ttl``; a holder that cannot renew in time stops its work before it would expire.
- PostgreSQL without Redis: a session advisory lock (``pg_try_advisory_lock``) on a connection kept
  for the lease; it goes when the connection does (the holder died), so no TTL is needed.
- Embedded (one process, SQLite): the process always holds every lease.

`Leadership.run(name, work)` runs `work()` only while the lease is held, cancelling it when the lease
is lost, and releases the lease when it ends or is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import text

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Leases(Protocol):
    """Where leases live. `token` identifies the holder; `ttl` is in seconds."""

    async def acquire(self, name: str, token: str, ttl: float) -> bool:
        """Take the lease if nobody holds it (or `token` already does); True if now held."""
        ...

    async def renew(self, name: str, token: str, ttl: float) -> bool:
        """Extend a lease `token` holds; False if it is no longer held by `token`."""
        ...

    async def release(self, name: str, token: str) -> None:
        """Give the lease up if `token` holds it."""
        ...


class LocalLeases:
    """Embedded mode: one process, so it always holds every lease."""

    async def acquire(self, name: str, token: str, ttl: float) -> bool:
        return True

    async def renew(self, name: str, token: str, ttl: float) -> bool:
        return True

    async def release(self, name: str, token: str) -> None:
        return None


class RedisLeases:
    """Leases as Redis keys with a TTL, on the bus's connection pool (a Cluster hash tag per name)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, name: str) -> str:
        return f"{self._prefix}:lease:{{{name}}}"

    async def acquire(self, name: str, token: str, ttl: float) -> bool:
        if await self._redis.set(self.key(name), token, nx=True, px=max(1, int(ttl * 1000))):
            return True
        return await self.renew(name, token, ttl)

    async def renew(self, name: str, token: str, ttl: float) -> bool:
        extended = await self._redis.eval(RENEW, 1, self.key(name), token, str(max(1, int(ttl * 1000))))
        return bool(extended)

    async def release(self, name: str, token: str) -> None:
        await self._redis.eval(RELEASE, 1, self.key(name), token)


def advisory_key(scope: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for `name` within `scope` (the schema: tests share a database)."""
    digest = hashlib.blake2b(f"lines:{scope}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresLeases:
    """Leases as PostgreSQL session advisory locks, each on its own connection held while leading."""

    def __init__(self, engine: AsyncEngine, scope: str = "") -> None:
        self._engine = engine
        self._scope = scope
        self._held: dict[tuple[str, str], AsyncConnection] = {}

    async def acquire(self, name: str, token: str, ttl: float) -> bool:
        if (name, token) in self._held:
            return await self.renew(name, token, ttl)
        connection = await self._engine.connect()
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self._scope, name)}
            )
            await connection.commit()  # the lock is per session, not per transaction: end the transaction
        except BaseException:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._held[(name, token)] = connection
        return True

    async def renew(self, name: str, token: str, ttl: float) -> bool:
        """The lock lives as long as its connection: check the connection is still there."""
        connection = self._held.get((name, token))
        if connection is None:
            return False
        try:
            await connection.execute(text("SELECT 1"))
            await connection.commit()
        except Exception:
            self._held.pop((name, token), None)
            with contextlib.suppress(Exception):
                await connection.invalidate()
            return False
        return True

    async def release(self, name: str, token: str) -> None:
        connection = self._held.pop((name, token), None)
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self._scope, name)})
            await connection.commit()
        finally:
            await connection.close()


class Leadership:
    """Runs work for a named resource only in the process that holds its lease."""

    def __init__(self, leases: Leases, ttl: float = 15.0) -> None:
        """Args:
        leases: the store of leases.
        ttl: seconds a lease lasts without renewal (how long a dead holder blocks a takeover).
            It is renewed every `ttl / 3`; others retry taking it at the same pace.
        """
        self.leases = leases
        self.ttl = ttl

    async def run(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait for the lease on `name`, run `work()` while holding it, and give the lease up after.

        When the lease is lost (renewal refused, or not confirmed before it would expire), `work` is
        cancelled and this waits for the lease again. When `work` returns or raises, the lease is
        released and so does this. Cancelling this cancels `work` and releases the lease.
        """
        token = secrets.token_hex(16)
        interval = self.ttl / 3
        while True:
            if not await self._try(self.leases.acquire, name, token):
                await asyncio.sleep(interval)
                continue
            log.info("leadership: this process now reads %s", name)
            task = asyncio.create_task(work(), name=f"lead:{name}")
            try:
                await self._hold(name, token, task, interval)
            finally:
                try:
                    await _cancel(task)
                finally:
                    await self._release(name, token, interval)
            if task.done() and not task.cancelled():
                task.result()  # work ended by itself: re-raise its error, if any
                return
            log.warning("leadership: lost the lease on %s; another process may read it now", name)

    async def _release(self, name: str, token: str, patience: float) -> None:
        """Give the lease up; shielded, so a stop that cancels us twice cannot leave it half released."""
        release = asyncio.ensure_future(self.leases.release(name, token))
        try:
            async with asyncio.timeout(patience):
                await asyncio.shield(release)
        except TimeoutError:
            log.warning("leadership: releasing %s timed out; it expires on its own", name)
        except Exception:
            log.exception("leadership: releasing %s failed; it expires on its own", name)

    async def _hold(self, name: str, token: str, task: asyncio.Task[None], interval: float) -> None:
        """Renew the lease while `task` runs; return when it ends or the lease is lost."""
        loop = asyncio.get_running_loop()
        confirmed = loop.time()
        while not task.done():
            await asyncio.wait({task}, timeout=interval)
            if task.done():
                return
            held = await self._try(self.leases.renew, name, token)
            if held is True:
                confirmed = loop.time()
            elif held is False or loop.time() - confirmed > self.ttl - interval:
                # Refused, or unconfirmed for so long that the lease may expire before the next try.
                return

    async def _try(self, call: Callable[[str, str, float], Awaitable[bool]], name: str, token: str) -> bool | None:
        """The lease call's answer, or None if the store could not be reached in time."""
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation (periodic.py).
            async with asyncio.timeout(self.ttl / 3):
                return await call(name, token, self.ttl)
        except (OSError, TimeoutError, ConnectionError) as err:
            log.warning("leadership: lease store unavailable for %s (%r)", name, err)
        except Exception:
            log.exception("leadership: lease call for %s failed", name)
        return None


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it has ended, even if we are cancelled meanwhile (then re-raise)."""
    interrupted = False
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=1.0)
        except asyncio.CancelledError:
            interrupted = True  # the work must not outlive its lease: finish stopping it first
    if interrupted:
        raise asyncio.CancelledError
