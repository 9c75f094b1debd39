"""`make demo` on this checkout: exits 0, prints the summary, and leaves no process running.

While the demo runs, the test reads the demo's state folder (the first line of output names it) read-only
and notes every process it records: the bundled proxy (proxy.json) and each workload process (the
`processes` table), each with its start time so a reused PID is never mistaken for it. After the demo
exits, none of them may still run, nothing may remain in the demo's session, and the temporary state
folder must be gone. The same holds for the other strategies, and when the demo is interrupted with
Ctrl-C in the middle of a rollout.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from controller.platforms.local import processes
from tests.e2e.local.rig import REPO, SLUICE, alive, terminate
from tests.harness.poll import wait_until

pytestmark = pytest.mark.slow

STATE_LINE = re.compile(r"state in (\S+)")


def recorded(state: Path) -> dict[int, int]:
    """PID -> start ticks of every process the demo's state folder names right now (read-only)."""
    found: dict[int, int] = {}
    with contextlib.suppress(OSError, ValueError, KeyError):
        pid = int(json.loads((state / "proxy.json").read_text())["pid"])
        ticks = processes.start_ticks(pid)
        if ticks is not None:
            found[pid] = ticks
    database = state / "sluice.db"
    if database.exists():
        with contextlib.suppress(sqlite3.Error):
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
            try:
                found.update(connection.execute("SELECT pid, start_ticks FROM processes").fetchall())
            finally:
                connection.close()
    return found


def in_session(session: int) -> list[int]:
    """Processes whose session id (field 6 of /proc/PID/stat) is `session`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            if int(text[text.rindex(")") + 2 :].split()[3]) == session:
                members.append(int(entry.name))
    return members


class Watched:
    """The demo as a process, its output read as it comes, its state folder's processes noted meanwhile."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.state: Path | None = None
        self.seen: dict[int, int] = {}

    def _read(self) -> None:
        self.lines.extend(self.process.stdout or [])

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def watch(self, until, timeout: float) -> None:
        """Note the recorded processes every 0.1 s until `until()` is true or the demo exits."""

        def done() -> bool:
            if self.state is None:
                named = [m.group(1) for line in list(self.lines) if (m := STATE_LINE.search(line))]
                self.state = Path(named[0]) if named else None
            else:
                self.seen.update(recorded(self.state))
            return self.process.poll() is not None or bool(until())

        with contextlib.suppress(TimeoutError):
            wait_until(done, timeout=timeout, interval=0.1, what="the demo to reach the point watched")

    def finish(self) -> list[int]:
        """Stop whatever is left (a failing test must not leak); return what was still running."""
        still = [pid for pid, ticks in self.seen.items() if processes.is_running(pid, ticks)]
        terminate(still)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        return still


def test_make_demo_exits_0_prints_the_summary_and_leaves_no_process() -> None:
    demo = Watched(["make", "--no-print-directory", "demo"])
    try:
        demo.watch(until=lambda: False, timeout=150)
        assert demo.process.poll() is not None, "the demo did not end within 150s"
    finally:
        still = demo.finish()
    output, state, seen = demo.output, demo.state, demo.seen
    assert demo.process.returncode == 0, output[-4000:]
    assert state is not None, output[:2000]
    assert "sluice demo summary" in output
    assert re.search(r"v2\s+│\s+Succeeded\s+│\s+Succeeded", output), output[-3000:]
    assert re.search(r"v3\s+│\s+Failed\s+│\s+Failed", output), output[-3000:]
    assert "now serving: v2" in output
    assert len(seen) >= 5, f"the proxy and the workload processes were seen while it ran: {seen}"
    assert still == [], f"still running after the demo exited: {still}"
    assert [pid for pid in in_session(demo.process.pid) if alive(pid)] == [], "nothing left in its session"
    assert not state.exists(), "the temporary state folder is removed"


@pytest.mark.parametrize("strategy", ["ab", "bluegreen", "mirror"])
def test_the_other_strategies(strategy: str) -> None:
    demo = Watched([*SLUICE, "demo", "--strategy", strategy])
    try:
        demo.watch(until=lambda: False, timeout=150)
        assert demo.process.poll() is not None, f"the {strategy} demo did not end within 150s"
    finally:
        still = demo.finish()
    assert demo.process.returncode == 0, demo.output[-4000:]
    assert f"sluice demo ({strategy})" in demo.output
    assert "now serving: v2" in demo.output
    assert still == [], f"still running after the demo exited: {still}"


def test_ctrl_c_mid_rollout_stops_every_process() -> None:
    demo = Watched([*SLUICE, "demo"])
    try:
        demo.watch(until=lambda: "rolling out v2" in demo.output and len(demo.seen) >= 3, timeout=60)
        assert demo.process.poll() is None, demo.output[-3000:]
        demo.watch(until=lambda: len(demo.seen) >= 5, timeout=20)  # the canary's replicas too
        os.killpg(demo.process.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
        demo.process.wait(timeout=30)
    finally:
        still = demo.finish()
    assert demo.process.returncode != 0
    assert len(demo.seen) >= 5, demo.seen
    assert still == [], f"still running after Ctrl-C: {still}"
    assert demo.state is not None and not demo.state.exists()
