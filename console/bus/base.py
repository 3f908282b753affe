"""The bus contract shared by the in-process and the Redis implementation."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from redis.asyncio import Redis

Payload: TypeAlias = dict[str, Any]
Handler: TypeAlias = Callable[[Payload], Awaitable[None]]

RESYNC_TOPIC = "_resync"
"""Local topic announced when the bus may have missed messages (a Redis reconnect): resync from DB."""


class EventBus(abc.ABC):
    """Topics fan out to every subscriber in every process; queues hand each job to one consumer.

    Payloads are JSON-serialisable dicts. Both implementations serialise them, so a subscriber never
    shares a mutable object with the publisher. Handlers' exceptions are logged, never propagated to
    the publisher.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Handler]] = {}
        self._consumers: dict[str, Handler] = {}

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Call `handler` for every payload published on `topic`; returns the unsubscribe function."""
        self._subscribers.setdefault(topic, []).append(handler)

        def unsubscribe() -> None:
            handlers = self._subscribers.get(topic, [])
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def consume(self, queue: str, handler: Handler) -> None:
        """Register the consumer of `queue`; consumption runs between `start()` and `stop()`."""
        if queue in self._consumers:
            raise ValueError(f"queue {queue!r} already has a consumer")
        self._consumers[queue] = handler

    def shared_redis(self) -> Redis | None:
        """The Redis client of a scaled deployment, for parts that keep shared state there on the bus's
        connection pool (closed with the bus); None in one process."""
        return None

    def handlers(self, topic: str) -> list[Handler]:
        return list(self._subscribers.get(topic, ()))

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def publish(self, topic: str, payload: Payload) -> None:
        """Deliver `payload` to the subscribers of `topic` in every process."""

    @abc.abstractmethod
    async def enqueue(self, queue: str, payload: Payload) -> None:
        """Add a job to `queue`; exactly one consumer (in some process) handles it."""
