"""The local platform with real processes: primary from the target, canary on demand, promotion under load."""

from __future__ import annotations

import http.client
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from controller.api.canary import Canary
from controller.api.workload import Workload, WorkloadSpec
from controller.platforms.local import processes
from controller.platforms.local.database import Database
from controller.platforms.local.platform import LocalPlatform, TargetError
from controller.platforms.local.store import LocalStore
from tests.harness.poll import wait_until
from tests.integration.local.conftest import app_spec


def workload(spec: WorkloadSpec, name: str = "podinfo") -> Workload:
    return Workload(metadata={"name": name}, spec=spec)


def canary(**analysis) -> Canary:
    return Canary.model_validate(
        {
            "metadata": {"name": "podinfo"},
            "spec": {
                "targetRef": {"apiVersion": "sluice.dev/v1beta1", "kind": "Workload", "name": "podinfo"},
                "service": {"port": 9898},
                "progressDeadlineSeconds": 60,
                "analysis": {"interval": "1s", "threshold": 2, "stepWeight": 50, **analysis},
            },
        }
    )


@pytest.fixture
def store(db: Database) -> LocalStore:
    return LocalStore(db)


@pytest.fixture
def platform(store: LocalStore, new_supervisor) -> LocalPlatform:
    return LocalPlatform(store, new_supervisor())


def get(address: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(*address.split(":"), timeout=5)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-App-Version", "")
    finally:
        conn.close()


def versions(addresses: list[str]) -> set[str]:
    return {get(address)[1] for address in addresses}


def test_initialize_makes_the_primary_from_the_target(store: LocalStore, platform: LocalPlatform) -> None:
    store.apply(workload(app_spec("v1", replicas=2)))
    c = canary()
    platform.initialize(c)
    assert store.get("Workload", "default", "podinfo-primary").metadata.labels == {
        "sluice.dev/primary-of": "podinfo"
    }
    assert platform.primary_readiness(c).state == "waiting"
    wait_until(lambda: platform.primary_readiness(c).ready, timeout=15, what="primary ready")
    assert len(platform.endpoints(c, "primary")) == 2 and versions(platform.endpoints(c, "primary")) == {"v1"}
    assert platform.canary_readiness(c).state == "waiting" and platform.endpoints(c, "canary") == []
    platform.initialize(c)  # idempotent
    assert len(platform.endpoints(c, "primary")) == 2


def test_revision_follows_the_target_spec_but_not_its_replicas(
    store: LocalStore, platform: LocalPlatform
) -> None:
    store.apply(workload(app_spec("v1")))
    c = canary()
    first = platform.revision(c)
    store.apply(workload(app_spec("v1", replicas=3)))
    assert platform.revision(c) == first
    store.apply(workload(app_spec("v2")))
    assert platform.revision(c) != first and len(platform.revision(c).spec_hash) == 64


def test_the_canary_runs_the_target_on_demand_and_follows_edits(
    store: LocalStore, platform: LocalPlatform
) -> None:
    store.apply(workload(app_spec("v1")))
    c = canary()
    platform.initialize(c)
    store.apply(workload(app_spec("v2")))
    platform.scale_from_zero(c)
    wait_until(lambda: platform.canary_readiness(c).ready, timeout=15, what="canary ready")
    assert versions(platform.endpoints(c, "canary")) == {"v2"}
    store.apply(workload(app_spec("v3")))
    platform.initialize(c)
    wait_until(lambda: versions(platform.endpoints(c, "canary")) == {"v3"}, timeout=15, what="v3 canary")
    platform.scale_to_zero(c)
    assert platform.endpoints(c, "canary") == [] and platform.canary_readiness(c).state == "waiting"


def test_a_missing_or_foreign_target_is_a_clear_error(store: LocalStore, platform: LocalPlatform) -> None:
    with pytest.raises(TargetError, match="Workload default/podinfo not found"):
        platform.initialize(canary())
    foreign = canary().model_copy(deep=True)
    foreign.spec.target_ref.kind = "Deployment"
    with pytest.raises(TargetError, match="not Deployment"):
        platform.revision(foreign)


def test_readiness_threshold_and_progress_deadline(store: LocalStore, db: Database, new_supervisor) -> None:
    store.apply(workload(app_spec("v1", 2, "--slow-start", "30s")))
    now = [1_000_000_000.0]
    platform = LocalPlatform(store, new_supervisor(), clock=lambda: now[0])
    c = canary(primaryReadyThreshold=50)
    platform.initialize(c)
    status = platform.supervisor.status(platform._key(c, "primary"))
    now[0] = status.since + 30
    assert platform.primary_readiness(c).state == "waiting"
    now[0] = status.since + 61
    failed = platform.primary_readiness(c)
    assert failed.state == "failed" and "progress deadline" in failed.reason


def test_zero_replicas_is_a_failure(store: LocalStore, platform: LocalPlatform) -> None:
    store.apply(workload(app_spec("v1", replicas=0)))
    c = canary()
    platform.initialize(c)  # the primary gets at least one process
    assert len(wait_until(lambda: platform.endpoints(c, "primary"), timeout=15, what="primary")) == 1


class Hammer:
    """Client threads sending requests to whatever addresses the test routes to, counting every outcome."""

    def __init__(self, routed: list[str], threads: int = 3) -> None:
        self.routed = routed
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.generation = 0
        self.seen_generation = [0] * threads
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, me: int) -> None:
        n = 0
        while not self._stop.is_set():
            with self._lock:
                generation, routed = self.generation, list(self.routed)
            address = routed[(n + me) % len(routed)]
            n += 1
            try:
                status, version = get(address)
                outcome = version if status == 200 else f"HTTP {status} from {address}"
            except OSError as exc:
                outcome = f"{exc!r} from {address}"
            with self._lock:
                self.outcomes[outcome] += 1
                if not outcome.startswith("v"):
                    self.failures.append(outcome)
                self.seen_generation[me] = generation

    def route(self, addresses: list[str]) -> None:
        """Switch traffic, then wait until every client has finished a request sent after the switch."""
        with self._lock:
            self.routed[:] = addresses
            self.generation += 1
            generation = self.generation
        wait_until(lambda: min(self.seen_generation) >= generation, timeout=10, what="clients to switch")

    def served(self, version: str) -> int:
        with self._lock:
            return self.outcomes[version]

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


@pytest.fixture
def started(store: LocalStore, platform: LocalPlatform) -> Iterator[Canary]:
    store.apply(workload(app_spec("v1", replicas=2)))
    c = canary()
    platform.initialize(c)
    wait_until(lambda: platform.primary_readiness(c).ready, timeout=15, what="primary v1 ready")
    yield c


def test_promotion_under_load_fails_no_request(store: LocalStore, platform: LocalPlatform, started) -> None:
    c = started
    old = platform.endpoints(c, "primary")
    old_pids = [r.pid for r in platform.supervisor.status(platform._key(c, "primary")).current]
    with Hammer(list(old)) as hammer:
        store.apply(workload(app_spec("v2", 2, "--slow-start", "0.5s")))
        platform.promote(c)
        assert platform.endpoints(c, "primary") == old, "the old processes serve until the new are ready"
        assert platform.retire_old_primary(c, routed=old) == 0, "nothing retires before the new are ready"
        wait_until(lambda: platform.primary_readiness(c).ready, timeout=15, what="primary v2 ready")
        new = platform.endpoints(c, "primary")
        assert set(new).isdisjoint(old) and versions(new) == {"v2"}
        hammer.route(new)
        assert platform.retire_old_primary(c, routed=new) == 2
        wait_until(lambda: hammer.served("v2") >= 200, timeout=30, what="v2 to serve under load")
    assert hammer.failures == [], hammer.failures[:5]
    assert hammer.served("v1") > 0
    assert all(not processes.command_line(pid) for pid in old_pids)
    assert store.get("Workload", "default", "podinfo-primary").spec.args[-3] == "v2"


def test_revert_hands_the_app_back_to_the_target(store: LocalStore, platform: LocalPlatform, started) -> None:
    c = started
    platform.revert(c)
    assert versions(platform.endpoints(c, "canary")) == {"v1"}
    assert platform.endpoints(c, "primary") == []
    assert [w.metadata.name for w in store.list("Workload")] == ["podinfo"]


def test_delete_stops_everything(store: LocalStore, platform: LocalPlatform, started) -> None:
    c = started
    platform.scale_from_zero(c)
    platform.delete(c)
    assert platform.supervisor.groups() == []
    assert [w.metadata.name for w in store.list("Workload")] == ["podinfo"]


def test_a_crash_long_after_the_rollout_is_a_new_wait(store: LocalStore, new_supervisor) -> None:
    store.apply(workload(app_spec("v1")))
    now = [0.0]
    supervisor = new_supervisor(backoff_base=30)  # the crashed process stays down for this test
    platform = LocalPlatform(store, supervisor, clock=lambda: now[0])
    c = canary()
    platform.initialize(c)
    status = supervisor.status(platform._key(c, "primary"))
    now[0] = status.since
    wait_until(lambda: platform.primary_readiness(c).ready, timeout=15, what="primary ready")
    changes = supervisor.readiness_changes()
    now[0] = status.since + 3600
    os.kill(status.replicas[0].pid or 0, signal.SIGKILL)
    wait_until(lambda: supervisor.status(platform._key(c, "primary")).ready == 0, timeout=10, what="noticed")
    assert supervisor.readiness_changes() > changes
    assert platform.primary_readiness(c).state == "waiting"
    now[0] += 61
    assert platform.primary_readiness(c).state == "failed"
