"""Background jobs stop when asked, even a loop that swallowed one cancellation."""

from __future__ import annotations

import asyncio

from lines.console.periodic import Periodic, stop_task


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 1:
                    continue  # what asyncio.wait_for can do on Python 3.11
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await stop_task(task, patience=0.05)
    assert (task.cancelled(), swallowed) == (True, 2)


class Counter(Periodic):
    name = "counter"

    def __init__(self) -> None:
        super().__init__(0.01)
        self.ticks = 0

    async def tick(self) -> int:
        self.ticks += 1
        if self.ticks == 1:
            raise RuntimeError("one bad round")
        return self.ticks


async def test_a_failing_tick_does_not_stop_the_job() -> None:
    job = Counter()
    await job.start()
    for _ in range(200):
        if job.ticks >= 3:
            break
        await asyncio.sleep(0.01)
    await job.stop()
    assert job.ticks >= 3
    ticks = job.ticks
    await asyncio.sleep(0.05)
    assert job.ticks == ticks
