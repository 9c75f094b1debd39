"""The supervisor with real processes: start, readiness, crash and backoff, graceful stop, adoption."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.request

import pytest

from controller.api.workload import WorkloadSpec
from controller.platforms.local import processes
from controller.platforms.local.process_records import GroupKey
from controller.platforms.local.supervisor import Supervisor, SupervisorBusy
from tests.harness.poll import wait_until
from tests.integration.local.conftest import app_spec

KEY = GroupKey("default", "podinfo", "primary")


def version_at(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/version", timeout=2) as response:
        return json.load(response)["version"]


def ready(supervisor: Supervisor, key: GroupKey, count: int):
    return wait_until(
        lambda: (s := supervisor.status(key)) and s.ready == count and s, timeout=15, what=f"{count} ready"
    )


def test_start_replicas_on_their_own_ports_with_logs(new_supervisor, db) -> None:
    supervisor = new_supervisor()
    supervisor.run(KEY, app_spec("v1", replicas=2), "rev1")
    status = ready(supervisor, KEY, 2)
    ports = {r.port for r in status.current}
    assert len(ports) == 2
    assert [version_at(r.address) for r in status.current] == ["v1", "v1"]
    log = db.state_dir / "logs" / "default" / "podinfo-primary-1.log"
    assert "starting on port" in log.read_text()


def test_readiness_waits_for_slow_start(new_supervisor) -> None:
    supervisor = new_supervisor()
    supervisor.run(KEY, app_spec("v1", 1, "--slow-start", "0.6s"), "rev1")
    started = time.monotonic()
    status = supervisor.status(KEY)
    assert status is not None and status.ready == 0
    ready(supervisor, KEY, 1)
    assert time.monotonic() - started >= 0.5


def test_a_crashed_process_is_restarted(new_supervisor) -> None:
    supervisor = new_supervisor(backoff_base=0.1)
    supervisor.run(KEY, app_spec("v1"), "rev1")
    first = ready(supervisor, KEY, 1).current[0]
    os.kill(first.pid, signal.SIGKILL)
    again = wait_until(
        lambda: (r := supervisor.status(KEY).current[0]).ready and r.pid != first.pid and r,
        timeout=15, what="a new ready process",
    )
    assert again.restarts == 1 and again.port == first.port
    assert version_at(again.address) == "v1"


def test_crash_loops_back_off_exponentially(new_supervisor, db) -> None:
    supervisor = new_supervisor(backoff_base=0.05, backoff_max=0.4)
    crashing = WorkloadSpec(command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    supervisor.run(KEY, crashing, "rev1")
    wait_until(lambda: supervisor.status(KEY).current[0].restarts >= 5, timeout=15, what="5 restarts")
    log = (db.state_dir / "logs" / "default" / "podinfo-primary-0.log").read_text()
    assert "exited with code 3" in log
    delays = [float(d) for d in re.findall(r"restart \d+ in ([\d.]+)s", log)][:5]
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.4]


def test_a_missing_binary_counts_as_a_crash(new_supervisor) -> None:
    supervisor = new_supervisor(backoff_base=0.05)
    supervisor.run(KEY, WorkloadSpec(command=["/nonexistent/sluice-app"]), "rev1")
    wait_until(lambda: supervisor.status(KEY).current[0].restarts >= 2, timeout=10, what="restarts")


def test_stop_is_graceful_then_forceful(new_supervisor) -> None:
    supervisor = new_supervisor()
    stubborn = WorkloadSpec.model_validate(
        {
            "command": [sys.executable, "-c",
                        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                        "while True: time.sleep(1)"],
            "terminationGracePeriodSeconds": 0.5,
        }
    )
    polite = GroupKey("default", "polite", "primary")
    supervisor.run(KEY, stubborn, "rev1")
    supervisor.run(polite, app_spec("v1"), "rev1")
    ready(supervisor, polite, 1)
    stubborn_pid = wait_until(lambda: supervisor.status(KEY).current[0].pid, what="a pid")
    wait_until(lambda: processes.command_line(stubborn_pid)[:2] == stubborn.command[:2], what="exec")
    polite_pid = supervisor.status(polite).current[0].pid

    began = time.monotonic()
    supervisor.stop(polite)
    assert time.monotonic() - began < 0.5, "the app exits on SIGTERM"
    began = time.monotonic()
    supervisor.stop(KEY)
    assert time.monotonic() - began >= 0.5, "SIGKILL only after the grace period"
    assert not processes.command_line(stubborn_pid) and not processes.command_line(polite_pid)
    assert supervisor.status(KEY) is None and supervisor.groups() == []


def test_a_new_supervisor_adopts_running_processes(new_supervisor, db) -> None:
    first = new_supervisor()
    first.run(KEY, app_spec("v1", replicas=2), "rev1")
    before = ready(first, KEY, 2)
    with pytest.raises(SupervisorBusy):
        Supervisor(db)
    first.close()  # the controller goes away; its processes stay

    os.kill(before.current[1].pid, signal.SIGKILL)  # and one dies while nobody watches

    second = new_supervisor()
    after = ready(second, KEY, 2)
    assert after.current[0].pid == before.current[0].pid, "adopted, not restarted"
    assert after.current[1].pid != before.current[1].pid, "the dead one is replaced"
    assert after.since == before.since


def test_a_reused_pid_with_another_command_line_is_not_ours(new_supervisor) -> None:
    supervisor = new_supervisor()
    supervisor.run(KEY, app_spec("v1"), "rev1")
    replica = ready(supervisor, KEY, 1).current[0]
    ticks = processes.start_ticks(replica.pid)
    argv = processes.command_line(replica.pid)
    assert processes.is_ours(replica.pid, ticks, argv)
    assert not processes.is_ours(replica.pid, ticks, [*argv[:-1], "v9"])
    assert not processes.is_ours(replica.pid, ticks + 1, argv)


def test_scaling_and_a_new_revision_keep_outgoing_processes_until_retired(new_supervisor) -> None:
    supervisor = new_supervisor()
    supervisor.run(KEY, app_spec("v1", replicas=2), "rev1")
    ready(supervisor, KEY, 2)
    supervisor.run(KEY, app_spec("v1", replicas=1), "rev1")
    assert [r.index for r in supervisor.status(KEY).replicas] == [0]

    supervisor.run(KEY, app_spec("v2", replicas=2), "rev2")
    status = ready(supervisor, KEY, 2)
    assert [r.index for r in status.current] == [1, 2]
    assert [r.index for r in status.outgoing] == [0]
    assert {version_at(r.address) for r in status.current} == {"v2"}
    old = status.outgoing[0]
    assert supervisor.retire_outgoing(KEY, keep={old.address}) == 0
    assert supervisor.retire_outgoing(KEY) == 1
    assert supervisor.status(KEY).outgoing == []
    assert not processes.command_line(old.pid)
