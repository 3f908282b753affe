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
    async def refund(self, key: str) -> None:
        """Take back one counted event (it turned out not to count, e.g. a successful login)."""


class MemoryRateLimiter(RateLimiter):
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_seconds:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:
            self._evict(now, window_seconds)
        if count > limit:
            return Verdict(False, max(1, math.ceil(start + window_seconds - now)))
        return Verdict(True, 0)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def refund(self, key: str) -> None:
        if key in self._windows:
            start, count = self._windows[key]
            self._windows[key] = (start, max(0, count - 1))

    def _evict(self, now: float, window_seconds: int) -> None:
        stale = [k for k, (start, _) in self._windows.items() if now - start >= window_seconds]
        for key in stale:
            del self._windows[key]
