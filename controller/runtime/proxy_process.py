"""The bundled proxy as its own long-lived process, shared across controller restarts.

Local rollouts route through `sluice proxy`. It runs apart from the controller so that stopping or killing
the controller never drops traffic: a restarted controller finds the proxy by the PID and admin port kept
in the state folder (`proxy.json`) and adopts it, instead of starting a second one on the same ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from mesh.proxy.admin_client import AdminClient

START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_proxy(state_dir: Path, admin_port: int | None = None) -> tuple[AdminClient, int]:
    """A healthy proxy for this state folder: the recorded one if it answers, else a new one. (client, pid)"""
    record = state_dir / "proxy.json"
    if record.exists():
        try:
            known = json.loads(record.read_text())
            client = AdminClient(f"http://127.0.0.1:{known['admin_port']}", timeout=2.0)
            if _alive(known["pid"]) and client.healthy():
                return client, int(known["pid"])
        except (ValueError, KeyError, OSError):
            pass
    port = admin_port or _free_port()
    config = state_dir / "proxy-bootstrap.yaml"
    config.write_text("services: []\n")
    log = open(state_dir / "proxy.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli.proxy", "--config", str(config), "--admin-port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = AdminClient(f"http://127.0.0.1:{port}", timeout=2.0)
    deadline = time.monotonic() + START_TIMEOUT
    while not client.healthy():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the bundled proxy did not start; see {state_dir / 'proxy.log'}")
        time.sleep(0.05)
    record.write_text(json.dumps({"pid": proc.pid, "admin_port": port}))
    return client, proc.pid


def stop_proxy(state_dir: Path, timeout: float = 10.0) -> None:
    """Stop the recorded proxy (SIGTERM, then SIGKILL) and forget it."""
    record = state_dir / "proxy.json"
    if not record.exists():
        return
    with contextlib.suppress(ValueError, KeyError, OSError):
        pid = int(json.loads(record.read_text())["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    record.unlink(missing_ok=True)
