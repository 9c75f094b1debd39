"""Shell commands for `POST /`: `cmd` (Flagger's default: in the background) and `bash` (blocking).

As in Flagger's loadtester, `cmd` is split into words and executed without a shell, while `bash` runs its
text with `bash -c` and answers with the outcome. Output goes to a temporary file rather than a pipe, so a
chatty command (`hey` prints a report) can never block on a full pipe while we wait for it to end.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

MAX_OUTPUT = 64 * 1024


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None  # None when stopped (timeout or shutdown) before it ended
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def cmd_argv(command: str) -> list[str]:
    return shlex.split(command)


def bash_argv(command: str) -> list[str]:
    return [shutil.which("bash") or "sh", "-c", command]


def execute(argv: list[str], stop: threading.Event, timeout: float) -> CommandResult:
    """Run `argv` until it exits, `stop` is set or `timeout` passes (then its process group is killed)."""
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return CommandResult(127, f"cannot run {argv[0]!r}: {exc}")
        returncode = _wait(proc, stop, timeout)
        out.seek(0)
        output = out.read(MAX_OUTPUT).decode(errors="replace")
    if returncode is None:
        output += f"\n(stopped after {timeout:g}s)" if not stop.is_set() else "\n(stopped)"
    return CommandResult(returncode, output)


def _wait(proc: subprocess.Popen, stop: threading.Event, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        with contextlib.suppress(subprocess.TimeoutExpired):
            return proc.wait(timeout=0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return None
