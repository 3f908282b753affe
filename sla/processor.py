"""SLA's change processor: a customer message, a reply, a status or priority change or an assignment
brings the conversation's clocks up to date."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from lines.console.changes import Assigned, ChangeJob, Inbound, PriorityChanged, Reply, StatusChanged
from lines.sla.service import SlaService


async def process(service: SlaService, job: ChangeJob) -> None:
    handler = HANDLERS.get(type(job))
    if handler is not None:
        await handler(service, job)


async def _inbound(service: SlaService, job: Inbound) -> None:
    await service.update(job.conversation_id, inbound_message_id=job.message_id)


async def _reply(service: SlaService, job: Reply) -> None:
    await service.update(job.conversation_id, reply_message_id=job.message_id, author=job.author_kind)


async def _priority(service: SlaService, job: PriorityChanged) -> None:
    """Policies may match on priority, so a new one re-matches the policy."""
    await service.update(job.conversation_id, rematch=True)


async def _changed(service: SlaService, job: StatusChanged | Assigned) -> None:
    await service.update(job.conversation_id)


Handler: TypeAlias = Callable[[SlaService, Any], Awaitable[None]]
HANDLERS: Mapping[type[ChangeJob], Handler] = {
    Inbound: _inbound,
    Reply: _reply,
    StatusChanged: _changed,
    Assigned: _changed,
    PriorityChanged: _priority,
}
