"""Runs local workload processes and keeps them running: the kubelet of local mode.

A group is one role of one workload (`podinfo` primary or canary) that should run `replicas` copies of a
spec at a revision. The supervisor starts them (logs under `<state>/logs/<namespace>/<name>-<role>-<i>.log`),
checks readiness over HTTP, restarts crashed processes with exponential backoff, and stops them gracefully
(SIGTERM, then SIGKILL after the grace period).

When a group moves to a new revision its old processes are kept as "outgoing": they go on serving until
`retire_outgoing` is called, which the platform does only after traffic has moved to the new ones.

Everything it runs is recorded in the state database, so a new supervisor (a restarted controller) adopts
the processes that still run (same PID, start time and command line) and restarts only the missing ones.
A lock file makes sure only one supervisor owns a state folder at a time.

Replica slots: a new process takes the lowest index not used by a live process of its group, so during a
promotion the new primaries (say 2, 3) never share a log file with the outgoing ones (0, 1).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from controller.api.workload import ReadinessProbe, WorkloadSpec
from controller.platforms.local import processes
from controller.platforms.local.database import Database
from controller.platforms.local.probes import probe
from controller.platforms.local.process_records import GroupKey, GroupRecord, ProcessRecord, ProcessRecords

log = logging.getLogger(__name__)

# Until a process has been ready once, it is checked this often (whatever periodSeconds says): promotions
# and restarts wait on first readiness, and a laptop can afford the extra requests.
STARTUP_PROBE_PERIOD = 0.1


class SupervisorBusy(Exception):
    """Another supervisor (another `sluice run`) already owns this state folder."""


@dataclass(frozen=True)
class ReplicaStatus:
    index: int
    revision: str
    pid: int | None
    port: int
    ready: bool
    restarts: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class GroupStatus:
    key: GroupKey
    revision: str
    desired: int
    since: float
    replicas: tuple[ReplicaStatus, ...]

    @property
    def current(self) -> list[ReplicaStatus]:
        return [r for r in self.replicas if r.revision == self.revision]

    @property
    def outgoing(self) -> list[ReplicaStatus]:
        return [r for r in self.replicas if r.revision != self.revision]

    @property
    def ready(self) -> int:
        return sum(r.ready for r in self.current)


@dataclass(eq=False)
class _Replica:
    key: GroupKey
    index: int
    revision: str
    port: int
    # None for an adopted outgoing process: it is not restarted when it dies.
    spec: WorkloadSpec | None
    argv: list[str] = field(default_factory=list)
    pid: int | None = None
    ticks: int = 0
    popen: subprocess.Popen | None = None
    started: float = 0.0  # monotonic
    ready: bool = False
    failures: int = 0
    next_probe: float = 0.0
    restarts: int = 0
    restart_at: float | None = None
    stopping: bool = False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(self.index, self.revision, self.pid, self.port, self.ready, self.restarts)


@dataclass(eq=False)
class _Group:
    key: GroupKey
    revision: str
    spec: WorkloadSpec
    since: float  # wall clock: when this revision was asked for; survives controller restarts
    replicas: list[_Replica] = field(default_factory=list)


def render(text: str, port: int) -> str:
    return text.replace("{port}", str(port)).replace("{python}", sys.executable)


class Supervisor:
    def __init__(
        self,
        db: Database,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        backoff_reset: float = 60.0,
        interval: float = 0.05,
    ) -> None:
        self.records = ProcessRecords(db)
        self.logs_dir = db.state_dir / "logs"
        self.backoff_base, self.backoff_max, self.backoff_reset = backoff_base, backoff_max, backoff_reset
        self.interval = interval
        self._lock = threading.RLock()
        self._groups: dict[GroupKey, _Group] = {}
        self._readiness_changes = 0
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file = _take_lock(db.state_dir / "supervisor.lock")
        self._adopt()

    # -- desired state -----------------------------------------------------------------------------------

    def run(self, key: GroupKey, spec: WorkloadSpec, revision: str) -> None:
        """Make the group run `spec.replicas` processes of `spec` at `revision` (idempotent).

        Processes of another revision become outgoing and keep running until `retire_outgoing`.
        """
        with self._lock:
            group = self._groups.get(key)
            if group is not None and group.revision == revision and group.spec == spec:
                return  # the common case: a tick confirming what already runs
            if group is None:
                group = self._groups[key] = _Group(key, revision, spec, time.time())
            elif group.revision != revision:
                group.revision, group.since = revision, time.time()
            group.spec = spec
            self.records.save_group(
                GroupRecord(key, revision, spec.model_dump(by_alias=True, mode="json"), group.since)
            )
            surplus = self._scale(group)
        self._terminate(surplus)

    def stop(self, *keys: GroupKey) -> None:
        """Stop every process of these groups gracefully (all at once) and forget the groups."""
        stopping: list[_Replica] = []
        with self._lock:
            for key in keys:
                group = self._groups.pop(key, None)
                if group is None:
                    continue
                for replica in group.replicas:
                    replica.stopping = True
                stopping += group.replicas
                self.records.delete_group(key)
        self._terminate(stopping)

    def retire_outgoing(self, key: GroupKey, keep: Collection[str] = ()) -> int:
        """Stop the group's outgoing processes except those whose address is in `keep`; how many stopped."""
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                return 0
            old = [r for r in group.replicas if r.revision != group.revision and r.address not in keep]
            for replica in old:
                replica.stopping = True
                group.replicas.remove(replica)
        self._terminate(old)
        return len(old)

    def status(self, key: GroupKey) -> GroupStatus | None:
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                return None
            replicas = tuple(r.status() for r in sorted(group.replicas, key=lambda r: r.index))
            return GroupStatus(key, group.revision, group.spec.replicas, group.since, replicas)

    def readiness_changes(self) -> int:
        """Grows whenever a process becomes ready or stops being ready: poll it to refresh routes early."""
        return self._readiness_changes

    def groups(self) -> list[GroupKey]:
        with self._lock:
            return sorted(self._groups)

    # -- the loop ----------------------------------------------------------------------------------------

    def start(self) -> Supervisor:
        """Supervise in a background thread until `close`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sluice-supervisor", daemon=True)
            self._thread.start()
        return self

    def close(self, stop_processes: bool = False) -> None:
        """Stop supervising. Processes keep running (a later supervisor adopts them) unless asked to stop."""
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if stop_processes:
            self.stop(*self.groups())
        self._lock_file.close()

    def _loop(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.tick()
            except Exception:  # the loop must outlive any one bad pass
                log.exception("supervisor pass failed")

    def tick(self) -> None:
        """One pass: notice exits, restart what is due, probe readiness."""
        now = time.monotonic()
        with self._lock:
            replicas = [r for g in self._groups.values() for r in g.replicas]
            for replica in replicas:
                self._notice_exit(replica, now)
                if replica.pid is None and replica.restart_at is not None and now >= replica.restart_at:
                    self._spawn(replica)
        for replica in replicas:
            if replica.pid is not None and not replica.stopping and time.monotonic() >= replica.next_probe:
                self._probe(replica)

    # -- one replica -------------------------------------------------------------------------------------

    def _scale(self, group: _Group) -> list[_Replica]:
        """Start missing current replicas; return the surplus ones, detached, for the caller to stop."""
        current = sorted((r for r in group.replicas if r.revision == group.revision), key=lambda r: r.index)
        for replica in current:  # includes adopted or outgoing processes the group went back to
            replica.spec = group.spec
        surplus = current[group.spec.replicas :]
        for replica in surplus:
            replica.stopping = True
            group.replicas.remove(replica)
        for _ in range(group.spec.replicas - len(current)):
            used = {r.index for r in group.replicas}
            index = next(i for i in range(len(used) + 1) if i not in used)
            replica = _Replica(group.key, index, group.revision, self._port_for(group.spec), group.spec)
            group.replicas.append(replica)
            self._spawn(replica)
        return surplus

    def _port_for(self, spec: WorkloadSpec) -> int:
        taken = {r.port for g in self._groups.values() for r in g.replicas}
        return processes.free_port(spec.port if spec.port not in taken else None)

    def _spawn(self, replica: _Replica) -> None:
        spec = replica.spec
        assert spec is not None, "adopted outgoing processes are never restarted"
        if processes.free_port(replica.port) != replica.port:
            replica.port = self._port_for(spec)
        port = replica.port
        replica.argv = [render(part, port) for part in [*spec.command, *spec.args]]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **{name: render(value, port) for name, value in spec.env.items()},
            "PORT": str(port),
        }
        log_path = self._log_path(replica)
        self._note(replica, f"starting on port {port} (revision {replica.revision[:12]}): {replica.argv}")
        try:
            popen = processes.spawn(replica.argv, env, spec.working_dir, log_path)
        except OSError as exc:  # a missing binary counts as a crash, with the same backoff
            self._note(replica, f"could not start: {exc}")
            replica.started = time.monotonic()
            self._crashed(replica, time.monotonic())
            return
        replica.popen, replica.pid = popen, popen.pid
        replica.ticks = processes.start_ticks(popen.pid) or 0
        replica.started = time.monotonic()
        self._set_ready(replica, False)
        replica.failures, replica.restart_at = 0, None
        probe_spec = spec.readiness_probe
        replica.next_probe = replica.started + (probe_spec.initial_delay_seconds if probe_spec else 0.0)
        self.records.save_process(
            ProcessRecord(replica.key, replica.index, replica.revision, popen.pid, port, replica.argv,
                          replica.ticks, time.time())
        )

    def _notice_exit(self, replica: _Replica, now: float) -> None:
        if replica.pid is None or replica.stopping:
            return
        if replica.popen is not None:
            code = replica.popen.poll()
            if code is None:
                return
            self._note(replica, f"pid {replica.pid} exited with code {code}")
        elif processes.is_running(replica.pid, replica.ticks):
            return
        else:
            self._note(replica, f"adopted pid {replica.pid} is gone")
        replica.pid, replica.popen = None, None
        self._set_ready(replica, False)
        if replica.spec is None:
            with self._lock:
                group = self._groups.get(replica.key)
                if group is not None and replica in group.replicas:
                    group.replicas.remove(replica)
            self.records.delete_process(replica.key, replica.index)
            return
        self._crashed(replica, now)

    def _crashed(self, replica: _Replica, now: float) -> None:
        replica.restarts = 1 if now - replica.started >= self.backoff_reset else replica.restarts + 1
        delay = min(self.backoff_base * 2 ** (replica.restarts - 1), self.backoff_max)
        replica.restart_at = now + delay
        self._note(replica, f"restart {replica.restarts} in {delay:.3g}s")

    def _probe(self, replica: _Replica) -> None:
        readiness: ReadinessProbe | None = replica.spec.readiness_probe if replica.spec else None
        ok = probe(replica.port, readiness)
        if ok:
            replica.failures = 0
            self._set_ready(replica, True)
        else:
            replica.failures += 1
            threshold = readiness.failure_threshold if readiness else 1
            if replica.failures >= threshold:
                self._set_ready(replica, False)
        period = readiness.period_seconds if readiness else 1.0
        if not replica.ready:
            period = min(period, STARTUP_PROBE_PERIOD)
        replica.next_probe = time.monotonic() + period

    def _set_ready(self, replica: _Replica, ready: bool) -> None:
        if replica.ready != ready:
            replica.ready = ready
            self._readiness_changes += 1

    def _terminate(self, replicas: list[_Replica]) -> None:
        live = [r for r in replicas if r.pid is not None]
        grace = max((r.spec.termination_grace_period_seconds for r in live if r.spec), default=10.0)
        processes.terminate([(r.pid, r.ticks, r.popen) for r in live if r.pid is not None], grace)
        for replica in replicas:
            if replica.pid is not None:
                self._note(replica, f"stopped pid {replica.pid}")
            replica.pid, replica.popen = None, None
            self._set_ready(replica, False)
            self.records.delete_process(replica.key, replica.index)

    # -- adoption ----------------------------------------------------------------------------------------

    def _adopt(self) -> None:
        """Take over what a previous supervisor recorded: live processes are kept, missing ones restarted."""
        now = time.monotonic()
        for record in self.records.groups():
            spec = WorkloadSpec.model_validate(record.spec)
            self._groups[record.key] = _Group(record.key, record.revision, spec, record.since)
        for rec in self.records.processes():
            group = self._groups.get(rec.key)
            current = group is not None and rec.revision == group.revision
            if group is None or not processes.is_ours(rec.pid, rec.start_ticks, rec.argv):
                self.records.delete_process(rec.key, rec.index)
                if current:  # it died while nobody watched: its slot is refilled by _scale below
                    log.info("%s-%d: recorded pid %d is gone", rec.key, rec.index, rec.pid)
                continue
            replica = _Replica(
                rec.key, rec.index, rec.revision, rec.port, group.spec if current else None, list(rec.argv),
                rec.pid, rec.start_ticks, None, now - max(time.time() - rec.started, 0.0),
            )
            group.replicas.append(replica)
            self._note(replica, f"adopted pid {rec.pid}")
        surplus = [r for group in self._groups.values() for r in self._scale(group)]
        self._terminate(surplus)
        for replica in [r for g in self._groups.values() for r in g.replicas if r.pid is not None]:
            self._probe(replica)

    # -- logs --------------------------------------------------------------------------------------------

    def _log_path(self, replica: _Replica) -> Path:
        key = replica.key
        return self.logs_dir / key.namespace / f"{key.name}-{key.role}-{replica.index}.log"

    def _note(self, replica: _Replica, message: str) -> None:
        """A line in the process's own log, so `tail -f` shows what the supervisor did to it."""
        path = self._log_path(replica)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as out:
            out.write(f"[sluice {time.strftime('%H:%M:%S')}] {message}\n")
        log.debug("%s-%d: %s", replica.key, replica.index, message)


def _take_lock(path: Path) -> IO[str]:
    handle = open(path, "a+")  # noqa: SIM115 - held until close()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SupervisorBusy(f"another sluice controller supervises {path.parent}") from None
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
    return handle
