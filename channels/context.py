"""What the core lends a channel adapter: ingest, history, the bus, limits, files. No database."""

from __future__ import annotations

from typing import Any, Protocol

from lines.channels.base import InboundMessage
from lines.console.availability import Openness
from lines.console.bus import EventBus
from lines.console.inbox import IngestResult
from lines.console.leadership import Leadership
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

    @property
    def leadership(self) -> Leadership:
        """`leadership.run(name, work)`: work that one process of many must do (read a mailbox, poll a bot)."""
        ...

    async def ingest(self, message: InboundMessage) -> IngestResult: ...

    async def load_state(self, channel: str, inbox: str, key: str) -> Any | None:
        """The adapter's cursor saved under `key` (JSON), or None."""
        ...

    async def save_state(self, channel: str, inbox: str, key: str, value: Any) -> None:
        """Keep a cursor (IMAP UIDVALIDITY/last UID, a polling offset) across restarts."""
        ...

    async def record_receipt(
        self, channel: str, inbox: str, external_id: str, status: str, error: str | None = None
    ) -> int | None:
        """A delivery report or bounce for the outbound message with provider id `external_id`:
        `status` is sent, delivered, read or failed. Returns the message id, None if unknown."""
        ...

    async def set_identity_state(
        self, channel: str, inbox: str, external_id: str, state: str, reason: str = ""
    ) -> int | None:
        """Mark an identity `active`, `opted_out`, `unreachable` or `blocked` (the outbox then
        refuses to send to it, telling the operator why). Returns the contact id, None if unknown."""
        ...

    async def history(
        self, channel: str, inbox: str, external_id: str, after_id: int | None
    ) -> tuple[int | None, list[dict[str, Any]]]:
        """The identity's latest conversation id and its public messages after `after_id`."""
        ...

    async def publish_typing(self, channel: str, inbox: str, external_id: str) -> None:
        """The customer is typing: tell the operators who can see their open conversation."""
        ...

    async def openness(self, channel: str, inbox: str) -> Openness:
        """Whether anybody can answer a new conversation of this inbox now, and when operators are back
        (the core's availability: console/availability.py). For a widget's header."""
        ...

    async def system_note(self, conversation_id: int, text: str, extra: dict[str, Any] | None = None) -> int:
        """A note from Lines to the operators in the conversation (an opt-out, a gateway notice);
        never sent to the customer. Returns the note's message id."""
        ...
