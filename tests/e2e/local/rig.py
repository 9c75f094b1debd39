"""One local-mode installation per test: a state folder, `sluice run` as a real process, and a clean end.

Why a rig rather than an in-process LocalController: the acceptance points are about what a user sees
with the real commands (`sluice apply`, `sluice run`, `sluice promote`) and real processes, and only a
subprocess can be SIGKILLed for real. The rig starts nothing but the controller itself; the controller
starts the bundled proxy and the workload processes in their own sessions (they outlive it on purpose),
so the rig's `close` stops each of them by the PID recorded in the state folder, checking it is still the
same process (start time), so a reused PID is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from controller.api.status import CanaryStatus
from controller.platforms.local import processes
from controller.platforms.local.database import Database
from controller.platforms.local.process_records import ProcessRecord, ProcessRecords
from controller.platforms.local.store import LocalStore
from controller.ports.store import Event
from mesh.proxy.admin_client import AdminClient
from tests.harness.net import free_port
from tests.harness.poll import wait_until
from tests.harness.processes import start, stop

REPO = Path(__file__).resolve().parents[3]
APP = str(REPO / "examples" / "app" / "app.py")
SLUICE = [sys.executable, "-m", "controller.cli.main"]
NAME = "podinfo"
NAMESPACE = "default"
TERMINAL = ("Succeeded", "Failed")
ADVANCE = re.compile(r"Advance \S+ canary weight (\d+)$")


def workload(version: str, *app_args: str, replicas: int = 1) -> dict[str, Any]:
    """examples/app at `version`, with extra app flags (`--error-rate`, `--latency`)."""
    return {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "Workload",
        "metadata": {"name": NAME},
        "spec": {
            "replicas": replicas,
            "command": ["{python}", APP],
            "args": ["--port", "{port}", "--version", version, *app_args],
            "readinessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 0.5, "failureThreshold": 2},
            "terminationGracePeriodSeconds": 5,
        },
    }


def success_rate(minimum: float = 99, interval: str = "2s") -> dict[str, Any]:
    return {"name": "request-success-rate", "interval": interval, "thresholdRange": {"min": minimum}}


def duration(maximum: float = 500, interval: str = "2s") -> dict[str, Any]:
    return {"name": "request-duration", "interval": interval, "thresholdRange": {"max": maximum}}


def canary(port: int, analysis: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A Canary of the Workload on `port`; `analysis` is merged over a 1 s interval and threshold 1."""
    return {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": NAME},
        "spec": {
            "targetRef": {"apiVersion": "sluice.dev/v1beta1", "kind": "Workload", "name": NAME},
            "progressDeadlineSeconds": 30,
            "service": {"port": port},
            "analysis": {"interval": "1s", "threshold": 1, **analysis},
            **spec,
        },
    }


def weights_of(events: Iterable[Event]) -> list[int]:
    """Canary weights in the order the controller recorded `Advance ... canary weight N` events."""
    return [int(m.group(1)) for e in events if (m := ADVANCE.match(e.message))]


class Rig:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.state = workdir / "state"
        self.port = free_port()
        self.store = LocalStore(Database(self.state))
        self.records = ProcessRecords(self.store.db)
        self.controller: subprocess.Popen | None = None
        self.waiters: list[subprocess.Popen] = []
        self.metrics_port = free_port()  # the controller's /metrics, kept across restarts
        self.runs = 0
        self._applied = 0
        # Every process the controller recorded while the test ran, so `close` can stop retired ones too.
        self.seen: dict[int, ProcessRecord] = {}

    # ---- commands a user runs -----------------------------------------------------------------
    def sluice(self, *args: str, timeout: float = 60, state: bool = True) -> subprocess.CompletedProcess[str]:
        """`sluice ARGS --state <this state folder>` (without --state for commands that take none)."""
        return subprocess.run(
            [*SLUICE, *args, *(["--state", str(self.state)] if state else [])],
            capture_output=True, text=True, timeout=timeout, cwd=REPO,
        )

    def apply(self, *documents: dict[str, Any]) -> None:
        self._applied += 1
        path = self.workdir / f"apply-{self._applied}.yaml"
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        done = self.sluice("apply", "-f", str(path))
        assert done.returncode == 0, done.stdout + done.stderr

    def wait_command(self, *args: str) -> subprocess.Popen:
        """`sluice wait podinfo ARGS` started in the background, as a CI job would run it."""
        waiter = subprocess.Popen(
            [*SLUICE, "wait", NAME, *args, "--state", str(self.state)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, start_new_session=True,
        )
        self.waiters.append(waiter)
        return waiter

    def command(self, verb: str) -> None:
        done = self.sluice(verb, NAME)
        assert done.returncode == 0, done.stdout + done.stderr

    def start_controller(self, *args: str) -> subprocess.Popen:
        assert self.controller is None or self.controller.poll() is not None
        self.runs += 1
        self.controller = start(
            [*SLUICE, "run", "--state", str(self.state), "--port", str(self.metrics_port), "-v", *args],
            self.workdir / f"controller-{self.runs}.log", cwd=REPO,
        )
        return self.controller

    def kill_controller(self) -> None:
        """SIGKILL the controller alone (not its group: the proxy and workloads have their own sessions)."""
        assert self.controller is not None
        os.kill(self.controller.pid, signal.SIGKILL)
        self.controller.wait(timeout=10)

    # ---- what the state folder says -----------------------------------------------------------
    def status(self) -> CanaryStatus:
        return self.store.get_canary(NAMESPACE, NAME).status or CanaryStatus()

    def wait_for(self, predicate, timeout: float = 60, what: str = "status") -> CanaryStatus:
        def check() -> CanaryStatus | None:
            self._assert_controller_alive()
            self.note_processes()
            status = self.status()
            return status if predicate(status) else None

        try:
            return wait_until(check, timeout=timeout, interval=0.1, what=what)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; last status: {self._describe()}") from None

    def wait_phase(self, *phases: str, timeout: float = 60) -> CanaryStatus:
        return self.wait_for(lambda s: s.phase in phases, timeout, what=f"phase in {phases}")

    def ticks(self) -> int:
        """Ticks of the canary the running controller has finished (its /metrics), 0 before the first."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
        series = rf'^sluice_canary_duration_seconds_count{{[^}}]*name="{NAME}"[^}}]*}} (\S+)$'
        found = re.search(series, text, re.M)
        return int(float(found.group(1))) if found else 0

    def wait_ticks(self, count: int, timeout: float = 30) -> None:
        """Until the controller has finished `count` more ticks of the canary."""
        start = wait_until(lambda: self.ticks() + 1, timeout=10, what="the controller's /metrics") - 1
        wait_until(lambda: self.ticks() >= start + count, timeout=timeout, what=f"{count} more ticks")

    def events(self) -> list[Event]:
        return self.store.list_events(NAMESPACE, NAME)

    def admin(self) -> AdminClient:
        known = json.loads((self.state / "proxy.json").read_text())
        return AdminClient(f"http://127.0.0.1:{known['admin_port']}", timeout=2.0)

    def proxy_pid(self) -> int:
        return int(json.loads((self.state / "proxy.json").read_text())["pid"])

    def live_routes(self) -> dict[str, Any]:
        return self.admin().get_routes(NAME)

    def running(self, role: str) -> list[ProcessRecord]:
        """Recorded processes of `role` (primary, canary) that are alive and still ours."""
        return [
            r for r in self.records.processes()
            if r.key.role == role and r.key.name == NAME and processes.is_ours(r.pid, r.start_ticks, r.argv)
        ]

    def note_processes(self) -> None:
        with contextlib.suppress(Exception):
            for record in self.records.processes():
                self.seen.setdefault(record.pid, record)

    # ---- the end ------------------------------------------------------------------------------
    def close(self) -> None:
        for waiter in self.waiters:
            stop(waiter)
        if self.controller is not None:
            stop(self.controller)
        self.note_processes()
        leftovers = [r for r in self.seen.values() if processes.is_ours(r.pid, r.start_ticks, r.argv)]
        terminate([r.pid for r in leftovers])
        with contextlib.suppress(OSError, ValueError, KeyError):
            terminate([self.proxy_pid()])
        (self.state / "proxy.json").unlink(missing_ok=True)

    def _assert_controller_alive(self) -> None:
        if self.controller is not None and self.controller.poll() is not None:
            log = (self.workdir / f"controller-{self.runs}.log").read_text()[-3000:]
            raise AssertionError(f"sluice run exited with {self.controller.returncode}:\n{log}")

    def _describe(self) -> str:
        with contextlib.suppress(Exception):
            s = self.status()
            return f"{s.phase} weight={s.canary_weight} step={s.step} reason={s.last_reason!r}"
        return "unreadable"


class WeightWatcher:
    """Polls the proxy's admin API every 10 ms and keeps each change of the live canary weight, in order.

    For each change it keeps when the previous weight was last seen and when the new one was first seen:
    the proxy switched in between, which bounds "before" and "after" for client answers.
    """

    def __init__(self, rig: Rig) -> None:
        self.admin = rig.admin()
        self.changes: list[tuple[float, float, int]] = []  # (previous last seen, first seen, weight)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def seen(self) -> list[int]:
        return [weight for _, _, weight in self.changes]

    def switched_to(self, weight: int) -> tuple[float, float]:
        """(last moment still before, first moment after) the first change to `weight`."""
        return next((before, after) for before, after, w in self.changes if w == weight)

    def __enter__(self) -> WeightWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        last_seen = 0.0
        while not self._stop.is_set():
            try:
                weight = self.admin.get_routes(NAME)["canary_weight"]
            except Exception:
                weight = None
            now = time.monotonic()
            if weight is not None:
                if not self.changes or self.changes[-1][2] != weight:
                    self.changes.append((last_seen, now, weight))
                last_seen = now
            self._stop.wait(0.01)


def terminate(pids: Sequence[int], timeout: float = 10.0) -> None:
    """SIGTERM each process group, then SIGKILL what is still there after `timeout`."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not any(alive(pid) for pid in pids), timeout=timeout, what="processes to exit")
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """`pid` exists and is not a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2 :].split()[0] != "Z"
