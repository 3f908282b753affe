"""What the core lends a channel adapter: ingest, history, the bus, limits, files. No database."""

from __future__ import annotations

from typing import Any, Protocol

from lines.channels.base import InboundMessage
from lines.console.bus import EventBus
from lines.console.inbox import IngestResult
from lines.console.metrics import Metrics
from lines.console.ratelimit import RateLimiter
from lines.console.settings import Settings
from lines.console.storage import FileStore


class ChannelContext(Protocol):
    """Resolved lazily: adapters are built when routes are added, before the resources start."""

    @property
    def settings(self) -> Settings: ...

    @property
    def bus(self) -> EventBus: ...

    @property
    def limiter(self) -> RateLimiter: ...

    @property
    def files(self) -> FileStore: ...

    @property
    def metrics(self) -> Metrics: ...

    async def ingest(self, message: InboundMessage) -> IngestResult: ...

    async def history(
        self, channel: str, inbox: str, external_id: str, after_id: int | None
    ) -> tuple[int | None, list[dict[str, Any]]]:
        """The identity's latest conversation id and its public messages after `after_id`."""
        ...

    async def publish_typing(self, channel: str, inbox: str, external_id: str) -> None:
        """The customer is typing: tell the operators who can see their open conversation."""
        ...
