"""The per-canary scheduler: jobs follow the store, and one canary never ticks twice at once."""

from __future__ import annotations

import threading
import time

from controller.runtime.scheduler import CanaryScheduler, JobSpec
from tests.harness.poll import wait_until


class Recorder:
    def __init__(self, busy_seconds: float = 0.0) -> None:
        self.busy_seconds = busy_seconds
        self.ticks: list[tuple[str, str]] = []
        self.running: dict[str, int] = {}
        self.max_concurrent: dict[str, int] = {}
        self.lock = threading.Lock()
        self.release = threading.Event()

    def tick(self, namespace: str, name: str) -> None:
        key = f"{namespace}/{name}"
        with self.lock:
            self.running[key] = self.running.get(key, 0) + 1
            self.max_concurrent[key] = max(self.max_concurrent.get(key, 0), self.running[key])
            self.ticks.append((namespace, name))
        # A slow tick: held until the test releases it or the busy time passes.
        self.release.wait(self.busy_seconds)
        with self.lock:
            self.running[key] -= 1

    def count(self, name: str) -> int:
        with self.lock:
            return sum(1 for _, n in self.ticks if n == name)


def test_new_canary_is_picked_up_within_a_second_and_removed_ones_stop() -> None:
    jobs: list[JobSpec] = []
    recorder = Recorder()
    scheduler = CanaryScheduler(lambda: list(jobs), recorder.tick, sync_seconds=0.2)
    scheduler.start()
    try:
        jobs.append(JobSpec("default", "podinfo", 0.2))
        started = time.monotonic()
        wait_until(lambda: recorder.count("podinfo") >= 1, timeout=5, what="first tick")
        assert time.monotonic() - started < 1.0
        wait_until(lambda: recorder.count("podinfo") >= 3, timeout=5, what="repeated ticks")
        jobs.clear()
        wait_until(lambda: scheduler._scheduler.get_job("default/podinfo") is None, timeout=5)
        after = recorder.count("podinfo")
        jobs.append(JobSpec("default", "other", 0.2))
        wait_until(lambda: recorder.count("other") >= 2, timeout=5, what="other canary ticks")
        assert recorder.count("podinfo") <= after + 1
    finally:
        scheduler.stop()


def test_a_slow_tick_is_never_overlapped_by_the_next_one() -> None:
    recorder = Recorder(busy_seconds=0.6)
    scheduler = CanaryScheduler(lambda: [JobSpec("default", "slow", 0.1)], recorder.tick, sync_seconds=0.2)
    scheduler.start()
    try:
        wait_until(lambda: recorder.count("slow") >= 3, timeout=10, what="three slow ticks")
    finally:
        recorder.release.set()
        scheduler.stop()
    assert recorder.max_concurrent["default/slow"] == 1


def test_a_failing_tick_does_not_stop_other_canaries() -> None:
    recorder = Recorder()

    def tick(namespace: str, name: str) -> None:
        if name == "broken":
            raise RuntimeError("boom")
        recorder.tick(namespace, name)

    jobs = [JobSpec("default", "broken", 0.1), JobSpec("default", "healthy", 0.1)]
    scheduler = CanaryScheduler(lambda: jobs, tick, sync_seconds=0.2)
    scheduler.start()
    try:
        wait_until(lambda: recorder.count("healthy") >= 3, timeout=5, what="healthy canary ticks")
    finally:
        scheduler.stop()
