"""Operating-system side of local workloads: spawning, recognising and signalling processes, free ports.

A controller that restarts must adopt the processes it started instead of starting duplicates, and must
never signal a stranger that happens to reuse a recorded PID. So a process is recognised by three things
recorded at start: its PID, its start time in clock ticks since boot (`/proc/PID/stat` field 22, which a
reused PID cannot share) and its command line. Each process leads its own process group, so a stop
signals the whole tree it may have forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens on it, else a port the kernel picks on 127.0.0.1."""
    if preferred:
        with socket.socket() as sock, contextlib.suppress(OSError):
            # As servers do: a port whose last user left it in TIME_WAIT is free to take again.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", preferred))
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(argv: Sequence[str], env: dict[str, str], cwd: str | None, log_path: Path) -> subprocess.Popen:
    """Start `argv` in a new session, stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True,
        )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; everything after its last ")" is safe.
    return text[text.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot; None if there is no such process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int, ticks: int) -> bool:
    """The process that had start time `ticks` still exists and is not a zombie."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z" and int(fields[19]) == ticks


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def is_ours(pid: int, ticks: int, argv: Sequence[str]) -> bool:
    """The recorded process is alive and still runs `argv` (a shebang's interpreter in front is ok)."""
    if not argv or not is_running(pid, ticks):
        return False
    return command_line(pid)[-len(argv) :] == list(argv)


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def terminate(targets: Sequence[tuple[int, int, subprocess.Popen | None]], grace: float) -> None:
    """SIGTERM each (pid, ticks, popen) group, SIGKILL what is still running after `grace` seconds.

    Children (with a Popen) are reaped; adopted processes belong to init, which reaps them.
    """

    def running(pid: int, ticks: int, popen: subprocess.Popen | None) -> bool:
        if popen is not None:
            return popen.poll() is None
        return is_running(pid, ticks)

    for pid, ticks, popen in targets:
        if running(pid, ticks, popen):
            signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(running(*t) for t in targets) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid, ticks, popen in targets:
        if running(pid, ticks, popen):
            signal_group(pid, signal.SIGKILL)
        if popen is not None:
            popen.wait()
