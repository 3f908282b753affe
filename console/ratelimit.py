"""Fixed-window rate limits: in-process for the embedded mode, Redis (atomic INCR) when scaled."""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: int
    count: int = 0
    """Events counted in the window so far, this one included (0 when the count is unknown)."""


class RateLimiter(abc.ABC):
    @abc.abstractmethod
    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        """Count one event for `key`; refuse it when more than `limit` fell in the current window.

        The count is incremented before it is compared, so concurrent callers cannot race past
        the limit.
        """

    @abc.abstractmethod
    async def reset(self, key: str) -> None: ...

    @abc.abstractmethod
    async def count(self, key: str) -> int:
        """Events counted for `key` in its current window, without counting one (0 when none)."""

    @abc.abstractmethod
    async def refund(self, key: str) -> None:
        """Take back one counted event (it turned out not to count, e.g. a successful login)."""


class MemoryRateLimiter(RateLimiter):
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int, int]] = {}  # key -> (start, count, window)

    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        now = time.monotonic()
        start, count, _ = self._windows.get(key, (now, 0, window_seconds))
        if now - start >= window_seconds:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count, window_seconds)
        if len(self._windows) > 100_000:
            self._evict(now)
        if count > limit:
            return Verdict(False, max(1, math.ceil(start + window_seconds - now)), count)
        return Verdict(True, 0, count)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def count(self, key: str) -> int:
        start, count, window = self._windows.get(key, (0.0, 0, 0))
        return count if time.monotonic() - start < window else 0

    async def refund(self, key: str) -> None:
        if key in self._windows:
            start, count, window = self._windows[key]
            self._windows[key] = (start, max(0, count - 1), window)

    def _evict(self, now: float) -> None:
        stale = [k for k, (start, _, window) in self._windows.items() if now - start >= window]
        for key in stale:
            del self._windows[key]
