"""A controller killed with SIGKILL leaves its workload processes running; the next one adopts them."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

from controller.api.canary import Canary
from controller.api.workload import Workload
from controller.platforms.local import processes
from controller.platforms.local.database import Database
from controller.platforms.local.platform import LocalPlatform
from controller.platforms.local.process_records import ProcessRecords
from controller.platforms.local.store import LocalStore
from tests.harness.net import http_ok
from tests.harness.poll import wait_until
from tests.harness.processes import python_module, start, stop
from tests.integration.local.conftest import REPO, app_spec

CANARY = {
    "metadata": {"name": "podinfo"},
    "spec": {
        "targetRef": {"kind": "Workload", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1s", "threshold": 2, "stepWeight": 50},
    },
}

# Stands in for `sluice run`: starts the primary and the canary, then runs until killed.
CONTROLLER = textwrap.dedent(
    """
    import sys, threading
    from controller.api.canary import Canary
    from controller.platforms.local.platform import LocalPlatform
    from controller.platforms.local.store import LocalStore
    from controller.platforms.local.supervisor import Supervisor
    store = LocalStore.open(sys.argv[1])
    platform = LocalPlatform(store, Supervisor(store.db).start())
    canary = store.get_canary("default", "podinfo")
    platform.initialize(canary)
    platform.scale_from_zero(canary)
    threading.Event().wait()
    """
)


def test_adopts_after_sigkill_without_duplicates(tmp_path: Path, new_supervisor) -> None:
    state = tmp_path / "state"
    store = LocalStore(Database(state))
    store.apply(Workload(metadata={"name": "podinfo"}, spec=app_spec("v1", replicas=2)))
    canary = Canary.model_validate(CANARY)
    store.apply(canary)
    store.apply(Workload(metadata={"name": "podinfo"}, spec=app_spec("v2", replicas=2)))

    controller = start([sys.executable, "-c", CONTROLLER, str(state)], tmp_path / "controller.log", cwd=REPO)
    records = ProcessRecords(store.db)
    try:
        wait_until(
            lambda: len(running := records.processes()) == 4
            and all(http_ok(f"http://127.0.0.1:{r.port}/healthz") for r in running),
            timeout=20, what="4 processes answering",
        )
        before = {(r.key.role, r.index): r.pid for r in records.processes()}
        os.kill(controller.pid, signal.SIGKILL)
        controller.wait(timeout=10)
    finally:
        stop(controller)

    platform = LocalPlatform(store, new_supervisor())
    assert len(platform.endpoints(canary, "primary")) == 2, "ready at once: adoption probes before returning"
    assert len(platform.endpoints(canary, "canary")) == 2
    platform.initialize(canary)
    platform.scale_from_zero(canary)
    after = {(r.key.role, r.index): r.pid for r in records.processes()}
    assert after == before, "the same processes, none started twice"
    assert all(processes.command_line(pid) for pid in after.values())


def test_an_apply_from_another_process_is_seen_within_a_second(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = LocalStore.open(state)
    since = store.changes()
    woke: list[float] = []

    def wait() -> None:
        store.wait_for_change(since, timeout=30)
        woke.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    examples = str(REPO / "examples" / "local")
    argv = python_module("controller.cli.main", "apply", "-f", examples, "--state", str(state))
    apply = start(argv, tmp_path / "apply.log", cwd=REPO)
    try:
        assert apply.wait(timeout=30) == 0, (tmp_path / "apply.log").read_text()
        exited = time.monotonic()
    finally:
        stop(apply)
    waiter.join(timeout=5)
    assert woke and woke[0] - exited < 1.0
    assert [c.metadata.name for c in store.list_canaries()] == ["podinfo"]
