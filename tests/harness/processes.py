"""Start real processes for tests and stop each one by its own PID (and its process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path


def start(
    args: Sequence[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    """Start `args` in its own process group with stdout+stderr to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        list(args), stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd, start_new_session=True
    )


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited within `timeout`."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


@contextlib.contextmanager
def running(args: Sequence[str], log_path: Path, **kwargs) -> Iterator[subprocess.Popen]:
    proc = start(args, log_path, **kwargs)
    try:
        yield proc
    finally:
        stop(proc)


def python_module(module: str, *args: str) -> list[str]:
    """argv that runs `python -m module args...` with the interpreter running the tests."""
    return [sys.executable, "-m", module, *args]
