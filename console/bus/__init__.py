"""Event bus: fan-out to every process (pub/sub) and work queues consumed once (streams)."""

from lines.console.bus.base import EventBus, Handler
from lines.console.bus.memory import MemoryBus

__all__ = ["EventBus", "Handler", "MemoryBus"]
