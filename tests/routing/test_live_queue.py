"""The live queue is pushed: changes reach the leads' sockets as one throttled `routing.queue_changed`."""

from __future__ import annotations

import asyncio
from typing import Any

from lines.console.access import Scope
from lines.console.bus import MemoryBus
from lines.console.events import Audience, Events
from lines.console.keys import inbox_key
from lines.console.models import Role
from lines.routing.live import LEADS, QUEUE_CHANGED, QueueChanges
from tests.api.helpers import Client, auth_headers, inbound
from tests.conftest import Staff
from tests.routing.helpers import presence, publish


class Recorded(Events):
    """Events that keep what was sent instead of publishing it."""

    def __init__(self) -> None:
        super().__init__(MemoryBus())
        self.sent: list[tuple[str, dict[str, Any], Audience]] = []

    async def send(self, type_: str, data: dict[str, Any], audience: Audience) -> None:
        self.sent.append((type_, data, audience))


async def test_a_burst_of_changes_is_one_event_now_and_one_at_the_end_of_the_interval() -> None:
    events = Recorded()
    changes = QueueChanges(events, interval=0.3)
    try:
        changes.touch()
        await asyncio.sleep(0)  # the first change is told at once
        await asyncio.sleep(0)
        assert [t for t, _, _ in events.sent] == [QUEUE_CHANGED]
        for _ in range(50):
            changes.touch()
            await asyncio.sleep(0)
        assert len(events.sent) == 1  # folded into one event due at the end of the interval
        await asyncio.sleep(0.6)
        assert len(events.sent) == 2
        await asyncio.sleep(0.4)
        assert len(events.sent) == 2  # nothing changed since: nothing more
        assert all(data == {} and audience == LEADS for _, data, audience in events.sent)
    finally:
        await changes.stop()


def test_only_leads_and_admins_receive_it() -> None:
    def scope(role: str) -> Scope:
        return Scope(operator_id=1, role=role, team_ids=frozenset({1}))

    assert LEADS.admits(scope(Role.LEAD)) and LEADS.admits(scope(Role.ADMIN))
    assert not LEADS.admits(scope(Role.OPERATOR))
    assert Audience.from_dict({"leads": True, "conversation": False}) == LEADS


async def next_of(ws: Any, type_: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=5)
        if frame["type"] == type_:
            return frame


async def test_an_arrival_and_a_presence_change_reach_a_leads_socket(client: Client, staff: Staff) -> None:
    await publish(client)
    ws = await client.ws_connect("/api/v1/events", headers=await auth_headers(client, "lead"))
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await presence(client, "anna", "online")
        assert (await next_of(ws, QUEUE_CHANGED))["data"] == {}
        await client.app[inbox_key].ingest(inbound("my order is late", "visitor-live"))
        await next_of(ws, "conversation.assigned")
        await next_of(ws, QUEUE_CHANGED)  # after the throttle interval at the latest
        queue = await client.get("/api/v1/routing/queue", headers=await auth_headers(client, "lead"))
        anna = next(o for o in (await queue.json())["operators"] if o["id"] == staff.anna)
        assert anna["presence"] == "online" and anna["load"]["chat"] == 1
    finally:
        await ws.close()
