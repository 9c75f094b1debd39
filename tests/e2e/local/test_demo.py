"""`make demo` on this checkout: exits 0, prints the summary, and leaves no process running.

While the demo runs, the test reads the demo's state folder (the first line of output names it) read-only
and notes every process it records: the bundled proxy (proxy.json) and each workload process (the
`processes` table), each with its start time so a reused PID is never mistaken for it. After the demo
exits, none of them may still run, nothing may remain in the demo's session, and the temporary state
folder must be gone.
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
import time
from pathlib import Path

import pytest

from controller.platforms.local import processes
from tests.e2e.local.rig import REPO, alive, terminate

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


def test_make_demo_exits_0_prints_the_summary_and_leaves_no_process(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        ["make", "--no-print-directory", "demo"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
    reader.start()
    seen: dict[int, int] = {}
    state: Path | None = None
    try:
        deadline = time.monotonic() + 150
        while demo.poll() is None and time.monotonic() < deadline:
            if state is None:
                named = [m.group(1) for line in list(lines) if (m := STATE_LINE.search(line))]
                state = Path(named[0]) if named else None
            else:
                seen.update(recorded(state))
            time.sleep(0.1)
        assert demo.poll() is not None, "the demo did not end within 150s"
        reader.join(timeout=10)
        output = "".join(lines)
        assert demo.returncode == 0, output[-4000:]
    finally:
        still = [pid for pid, ticks in seen.items() if processes.is_running(pid, ticks)]
        terminate(still)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(timeout=10)

    assert state is not None, output[:2000]
    assert "sluice demo summary" in output
    assert re.search(r"v2\s+│\s+Succeeded\s+│\s+Succeeded", output), output[-3000:]
    assert re.search(r"v3\s+│\s+Failed\s+│\s+Failed", output), output[-3000:]
    assert "now serving: v2" in output
    assert len(seen) >= 5, f"the proxy and the workload processes were seen while it ran: {seen}"
    assert still == [], f"still running after the demo exited: {still}"
    assert [pid for pid in in_session(demo.pid) if alive(pid)] == [], "nothing left in the demo's session"
    assert not state.exists(), "the temporary state folder is removed"
