"""One job per canary at its `analysis.interval`, never two ticks of one canary at once.

APScheduler 3 runs the jobs on a small thread pool; `max_instances=1` with `coalesce=True` means a slow tick
delays the next one instead of overlapping it. A sync loop (every `sync_seconds`) reconciles the job set with
the store: new canaries get a job that runs at once, removed ones lose theirs, a changed interval reschedules.
The scheduler knows nothing of rollouts: it calls `tick(namespace, name)` and logs what escapes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("sluice.scheduler")


@dataclass(frozen=True)
class JobSpec:
    namespace: str
    name: str
    interval_seconds: float

    @property
    def job_id(self) -> str:
        return f"{self.namespace}/{self.name}"


class CanaryScheduler:
    def __init__(
        self,
        list_jobs: Callable[[], Iterable[JobSpec]],
        tick: Callable[[str, str], None],
        sync_seconds: float = 1.0,
        workers: int = 4,
    ) -> None:
        self._list_jobs = list_jobs
        self._tick = tick
        self._sync_seconds = sync_seconds
        self._intervals: dict[str, float] = {}
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    def start(self) -> None:
        self._scheduler.start()
        self.sync()
        self._scheduler.add_job(
            self.sync, "interval", seconds=self._sync_seconds, id="__sync__", max_instances=1
        )

    def stop(self, wait: bool = True) -> None:
        self._scheduler.shutdown(wait=wait)

    def sync(self) -> None:
        """Make the job set match the store: add, reschedule and remove jobs."""
        with self._lock:
            try:
                wanted = {job.job_id: job for job in self._list_jobs()}
            except Exception:
                log.exception("listing canaries failed; keeping the current jobs")
                return
            for job_id in list(self._intervals):
                if job_id not in wanted:
                    self._scheduler.remove_job(job_id)
                    del self._intervals[job_id]
            for job_id, job in wanted.items():
                if self._intervals.get(job_id) == job.interval_seconds:
                    continue
                if job_id in self._intervals:
                    self._scheduler.remove_job(job_id)
                self._scheduler.add_job(
                    self._run,
                    "interval",
                    seconds=job.interval_seconds,
                    id=job_id,
                    args=(job.namespace, job.name),
                    next_run_time=datetime.now(UTC),
                )
                self._intervals[job_id] = job.interval_seconds

    def run_now(self, namespace: str, name: str) -> None:
        """Bring the next tick of one canary forward (a manual command, or a spec change)."""
        job = self._scheduler.get_job(f"{namespace}/{name}")
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    def _run(self, namespace: str, name: str) -> None:
        try:
            self._tick(namespace, name)
        except Exception:
            # One broken canary never stops the others: log and wait for the next interval.
            log.exception("tick of %s/%s failed", namespace, name)
