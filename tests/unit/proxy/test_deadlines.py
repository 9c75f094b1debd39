"""The deadline sweep fires overdue items, keeps going past a broken one, and stops when idle."""

from __future__ import annotations

import asyncio
import time

from mesh.proxy.deadlines import Deadlines


class Item:
    def __init__(self, due: float, fired: asyncio.Future | None = None, broken: bool = False) -> None:
        self.next_deadline = due
        self.fired = fired
        self.broken = broken

    def on_deadline(self, now: float) -> None:
        if self.broken:
            raise RuntimeError("boom")
        self.next_deadline = float("inf")
        if self.fired is not None and not self.fired.done():
            self.fired.set_result(now)


def test_overdue_items_fire_and_a_broken_one_does_not_stop_the_sweep():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop)
        fired = loop.create_future()
        later = Item(time.perf_counter() + 3600)
        deadlines.watch(Item(0.0, broken=True))
        deadlines.watch(Item(time.perf_counter() + 0.02, fired))
        deadlines.watch(later)
        await asyncio.wait_for(fired, timeout=5)
        assert later.next_deadline > time.perf_counter()  # not fired early
        deadlines.unwatch(later)
        deadlines.close()

    asyncio.run(scenario())
