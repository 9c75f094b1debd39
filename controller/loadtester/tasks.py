"""Background jobs of the loadtester: started at once, deduplicated while running, bounded by a timeout.

Flagger's loadtester answers 202 to `POST /` at once and runs the command in the background, keyed by a
hash of canary and command, so a rollout hook called on every tick starts `hey -z 10m` once and the load
keeps flowing across ticks. A job with the same key can start again once the previous one has ended (the
next rollout gets its load). Finished jobs are kept (the last HISTORY) for `GET /jobs`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

HISTORY = 100
JobState = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


# A job's body: runs until done or until the event is set (stop or timeout), may publish live figures in
# the dict (shown by `GET /jobs` while it runs), and says how it went.
JobBody = Callable[[threading.Event, dict[str, Any]], Outcome]


@dataclass
class Job:
    key: str
    canary: str
    kind: str
    description: str
    started: float = field(default_factory=time.time)
    state: JobState = "running"
    finished: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.key[:12],
            "canary": self.canary,
            "type": self.kind,
            "description": self.description,
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            **self.detail,
        }


def job_key(canary: str, kind: str, what: str) -> str:
    return hashlib.sha256(f"{canary}\n{kind}\n{what}".encode()).hexdigest()


class TaskRunner:
    def __init__(self, timeout: float, on_finish: Callable[[Job], None] | None = None) -> None:
        self.timeout = timeout
        self._on_finish = on_finish
        self._running: dict[str, tuple[Job, threading.Event, threading.Thread]] = {}
        self._done: deque[Job] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()

    def submit(self, canary: str, kind: str, description: str, body: JobBody) -> bool:
        """Start `body` in the background unless the same job is running; whether it was started."""
        key = job_key(canary, kind, description)
        with self._lock:
            if key in self._running:
                return False
            job, stop = Job(key, canary, kind, description), threading.Event()
            thread = threading.Thread(
                target=self._run, args=(job, stop, body), name=f"job-{key[:8]}", daemon=True
            )
            self._running[key] = (job, stop, thread)
        thread.start()
        return True

    def _run(self, job: Job, stop: threading.Event, body: JobBody) -> None:
        timer = threading.Timer(self.timeout, stop.set)
        timer.daemon = True
        timer.start()
        try:
            outcome = body(stop, job.detail)
        except Exception as exc:  # a job's failure is reported in /jobs, never raised into the server
            outcome = Outcome(False, {"error": f"{type(exc).__name__}: {exc}"})
        finally:
            timer.cancel()
        job.state, job.detail, job.finished = (
            ("succeeded" if outcome.ok else "failed"),
            outcome.detail,
            time.time(),
        )
        with self._lock:
            self._running.pop(job.key, None)
            self._done.append(job)
        if self._on_finish is not None:
            self._on_finish(job)

    def jobs(self) -> list[Job]:
        with self._lock:
            return [job for job, _, _ in self._running.values()] + list(self._done)

    def stop_all(self, wait: float = 5.0) -> None:
        """Ask every running job to stop and wait up to `wait` seconds in all for them to end."""
        with self._lock:
            running = list(self._running.values())
        for _, stop, _ in running:
            stop.set()
        deadline = time.monotonic() + wait
        for _, _, thread in running:
            thread.join(timeout=max(deadline - time.monotonic(), 0))
