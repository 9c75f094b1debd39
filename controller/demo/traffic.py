"""Steady client traffic for the demo, counted the way a user's clients would see it.

Built on the loadtester's generator (controller.loadtester.load), run in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import uvloop

from controller.loadtester.load import LoadSpec, LoadStats, generate


@dataclass(frozen=True)
class Tally:
    requests: int
    errors: int  # 5xx answers and requests that got no answer

    def __sub__(self, other: Tally) -> Tally:
        return Tally(self.requests - other.requests, self.errors - other.errors)


class Traffic:
    def __init__(self, url: str, rate: float = 40.0, headers: dict[str, str] | None = None) -> None:
        self.spec = LoadSpec(url=url, rate=rate, duration=3600.0, concurrency=4, headers=headers or {})
        self.stats = LoadStats(planned=self.spec.total)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def tally(self) -> Tally:
        codes = dict(self.stats.codes)
        errors = sum(n for code, n in codes.items() if code.startswith("5")) + sum(self.stats.errors.values())
        return Tally(sum(codes.values()) + sum(self.stats.errors.values()), errors)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(generate(self.spec, self._stop, self.stats))
