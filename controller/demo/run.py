"""The demo's story: v1 serves, v2 (healthy) is promoted, v3 (25% errors) is rolled back, v2 keeps serving.

Everything is real: the controller ticks in this process, the proxy and the app versions are processes on
loopback, the analysis reads the proxy's own windows. The state lives in a temporary folder that is removed
at the end, and every process the demo started is stopped, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from controller.api.loading import parse_resource
from controller.api.status import CanaryStatus
from controller.cli.backend import LocalBackend, take_snapshot
from controller.cli.status_view import change_line, watch_card
from controller.demo.scenario import AB_HEADER, AB_VALUE, Strategy, canary, workload
from controller.demo.traffic import Tally, Traffic
from controller.runtime.local import LocalController

TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Rollout:
    version: str
    wanted: str
    outcome: str
    seconds: float
    traffic: Tally
    reason: str

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.wanted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    def __init__(self, strategy: Strategy, console: Console, keep_state: bool = False) -> None:
        self.strategy = strategy
        self.console = console
        self.keep_state = keep_state
        self.state_dir = Path(tempfile.mkdtemp(prefix="sluice-demo-"))
        self.port = _free_port()
        self.controller: LocalController | None = None
        self.traffic: list[Traffic] = []
        self._last_line = ""

    def run(self) -> int:
        try:
            return self._story()
        finally:
            self._cleanup()

    def _story(self) -> int:
        c = self.console
        c.print(f"[bold]sluice demo[/] ({self.strategy}): state in {self.state_dir}")
        c.print(f"the service answers on http://127.0.0.1:{self.port}/ through the bundled proxy")
        self.controller = LocalController(self.state_dir, sync_seconds=0.25)
        self._apply(workload("v1"), canary(self.strategy, self.port))
        self.controller.start()
        self._wait_for(("Initialized",), timeout=45, title="v1 becomes the primary")
        url = f"http://127.0.0.1:{self.port}/"
        self.traffic.append(Traffic(url).start())
        if self.strategy == "ab":
            self.traffic.append(Traffic(url, rate=20, headers={AB_HEADER: AB_VALUE}).start())
        results = [
            self._rollout("v2", 0.0, "Succeeded"),
            self._rollout("v3", 0.25, "Failed"),
        ]
        serving = self._serving_version()
        self._summary(results, serving)
        return 0 if all(r.as_expected for r in results) and serving == "v2" else 1

    def _rollout(self, version: str, error_rate: float, wanted: str) -> Rollout:
        before, began = self._tally(), time.monotonic()
        label = f"{version}" + (f" ({error_rate:.0%} errors)" if error_rate else " (healthy)")
        self.console.print(f"\n[bold]rolling out {label}[/]; sluice should answer: {wanted}")
        self._apply(workload(version, error_rate))
        self._wait_for(("Progressing",), timeout=30, title=f"{version} detected")
        status = self._wait_for(TERMINAL, timeout=90, title=f"{version} analysed")
        return Rollout(
            version,
            wanted,
            status.phase,
            time.monotonic() - began,
            self._tally() - before,
            status.last_reason or "",
        )

    def _apply(self, *documents: dict) -> None:
        assert self.controller is not None
        self.controller.store.apply_all([parse_resource(doc, source="demo") for doc in documents])

    def _wait_for(self, phases: tuple[str, ...], timeout: float, title: str) -> CanaryStatus:
        """Follow the canary until it reaches one of `phases`: the live status card on a terminal (the same
        as `sluice status --watch`), one line per change otherwise."""
        assert self.controller is not None
        backend = LocalBackend(self.controller.store)
        deadline = time.monotonic() + timeout
        live = Live(console=self.console, refresh_per_second=4) if self.console.is_terminal else None
        with live or contextlib.nullcontext():
            while True:
                snap = take_snapshot(backend, "default", "podinfo")
                status = snap.canary.status or CanaryStatus()
                if live is not None:
                    live.update(watch_card(snap, events=5))
                elif (line := change_line(snap).split(" ", 1)[1]) != self._last_line:
                    self.console.print(f"  {change_line(snap)}", highlight=False, soft_wrap=True)
                    self._last_line = line
                if status.phase in phases:
                    return status
                if time.monotonic() > deadline:
                    raise TimeoutError(f"demo: {title}: still {status.phase} after {timeout:.0f}s")
                backend.wait_for_change(backend.changes(), timeout=0.5)

    def _tally(self) -> Tally:
        total = Tally(0, 0)
        for traffic in self.traffic:
            t = traffic.tally()
            total = Tally(total.requests + t.requests, total.errors + t.errors)
        return total

    def _serving_version(self) -> str:
        """The version a plain client gets now (the most common answer of a few requests)."""
        seen: dict[str, int] = {}
        for _ in range(5):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as response:
                    version = json.loads(response.read()).get("version", "?")
            except OSError as exc:
                version = f"error ({exc.__class__.__name__})"
            seen[version] = seen.get(version, 0) + 1
        return max(seen, key=lambda v: seen[v])

    def _summary(self, results: list[Rollout], serving: str) -> None:
        table = Table(title="sluice demo summary")
        for column in (
            "version",
            "expected",
            "outcome",
            "duration",
            "requests",
            "client errors",
        ):
            table.add_column(column)
        for r in results:
            mark = "[green]" if r.as_expected else "[red]"
            table.add_row(
                r.version,
                r.wanted,
                f"{mark}{r.outcome}[/]",
                f"{r.seconds:.0f}s",
                str(r.traffic.requests),
                str(r.traffic.errors),
            )
        self.console.print()
        self.console.print(table)
        for r in results:
            self.console.print(f"{r.version}: {r.reason}", highlight=False)
        self.console.print(f"now serving: {serving}")

    def _cleanup(self) -> None:
        for traffic in self.traffic:
            traffic.stop()
        if self.controller is not None:
            self.controller.stop(everything=True)
        if not self.keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
