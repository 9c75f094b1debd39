"""Leader election rules, one attempt at a time, against an in-memory Lease with resourceVersion checks.

The real-apiserver tests (tests/integration/kubernetes/test_leader_election.py) prove the whole thing with
processes and SIGKILL; these pin the rules themselves on a fake clock, without waiting: expiry by local
observation, optimistic concurrency, the renew deadline, release.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from controller.runtime.leader import LeaderElector, LeaseTiming

TIMING = LeaseTiming.scaled(3)


class FakeLeases:
    """One namespaced Lease; replace needs the current resourceVersion, like the apiserver."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.fail = False

    def _object(self) -> Any:
        assert self.lease is not None
        spec = self.lease["spec"]
        return SimpleNamespace(
            metadata=SimpleNamespace(resource_version=str(self.version)),
            spec=SimpleNamespace(
                holder_identity=spec.get("holderIdentity"),
                lease_duration_seconds=spec.get("leaseDurationSeconds"),
                acquire_time=spec.get("acquireTime"),
                renew_time=spec.get("renewTime"),
                lease_transitions=spec.get("leaseTransitions"),
            ),
        )

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> Any:
        if self.fail:
            raise ConnectionError("apiserver unreachable")
        if self.lease is None:
            raise ApiException(status=404, reason="Not Found")
        return self._object()

    def create_namespaced_lease(self, namespace: str, body: dict[str, Any], **_: Any) -> Any:
        if self.lease is not None:
            raise ApiException(status=409, reason="AlreadyExists")
        self.lease, self.version = copy.deepcopy(body), self.version + 1
        return self._object()

    def replace_namespaced_lease(self, name: str, namespace: str, body: dict[str, Any], **_: Any) -> Any:
        if self.fail:
            raise ConnectionError("apiserver unreachable")
        if body["metadata"]["resourceVersion"] != str(self.version):
            raise ApiException(status=409, reason="Conflict")
        self.lease, self.version = copy.deepcopy(body), self.version + 1
        return self._object()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(leases: FakeLeases, clock: Clock, identity: str, **callbacks: Any) -> LeaderElector:
    made = LeaderElector(SimpleNamespace(), "ns", identity=identity, timing=TIMING, clock=clock, **callbacks)
    made._leases = leases  # type: ignore[assignment]
    return made


@pytest.fixture
def world() -> tuple[FakeLeases, Clock]:
    return FakeLeases(), Clock()


def test_first_candidate_creates_the_lease_and_leads(world: tuple[FakeLeases, Clock]) -> None:
    leases, clock = world
    a = elector(leases, clock, "a")
    assert a._try_acquire_or_renew()
    assert a.is_leader()
    assert leases.lease is not None and leases.lease["spec"]["holderIdentity"] == "a"
    assert leases.lease["spec"]["leaseDurationSeconds"] == 3


def test_a_standby_waits_a_full_lease_from_when_it_saw_the_last_change(
    world: tuple[FakeLeases, Clock],
) -> None:
    leases, clock = world
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a._try_acquire_or_renew()
    assert not b._try_acquire_or_renew()  # b sees a's record now
    clock.now += 2.9
    assert not b._try_acquire_or_renew()  # a has not renewed, but 3 s have not passed by b's clock
    clock.now += 0.2
    assert b._try_acquire_or_renew()
    assert leases.lease["spec"]["holderIdentity"] == "b"  # type: ignore[index]
    assert leases.lease["spec"]["leaseTransitions"] == 1  # type: ignore[index]


def test_every_renewal_restarts_the_standbys_wait(world: tuple[FakeLeases, Clock]) -> None:
    leases, clock = world
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a._try_acquire_or_renew()
    assert not b._try_acquire_or_renew()
    for _ in range(5):
        clock.now += 2.0
        assert a._try_acquire_or_renew()  # renewal: a new renewTime in the record
        assert not b._try_acquire_or_renew()
    assert leases.lease["spec"]["holderIdentity"] == "a"  # type: ignore[index]


def test_a_stale_resource_version_loses_the_race(world: tuple[FakeLeases, Clock]) -> None:
    leases, clock = world
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a._try_acquire_or_renew()
    stale = leases.read_namespaced_lease("sluice-leader", "ns")
    assert a._try_acquire_or_renew()  # a renews: the version moves on
    leases_read = leases.read_namespaced_lease
    leases.read_namespaced_lease = lambda *args, **kwargs: stale  # type: ignore[method-assign]
    clock.now += 10  # b thinks the lease expired, from a stale read
    assert not b._try_acquire_or_renew()  # 409: nobody else's write was overwritten
    leases.read_namespaced_lease = leases_read  # type: ignore[method-assign]
    assert leases.lease["spec"]["holderIdentity"] == "a"  # type: ignore[index]
    assert not b.is_leader()


def test_a_leader_that_cannot_renew_stops_being_ready_before_the_lease_expires(
    world: tuple[FakeLeases, Clock],
) -> None:
    leases, clock = world
    a = elector(leases, clock, "a")
    assert a._try_acquire_or_renew()
    leases.fail = True
    clock.now += TIMING.renew_deadline - 0.1
    assert not a._try_acquire_or_renew()
    assert a.is_leader()
    clock.now += 0.2
    assert not a.is_leader()  # past the renew deadline, still before lease_duration
    assert TIMING.renew_deadline < TIMING.lease_duration


def test_release_hands_over_at_once(world: tuple[FakeLeases, Clock]) -> None:
    leases, clock = world
    stopped: list[str] = []
    a = elector(leases, clock, "a", on_stopped_leading=lambda: stopped.append("a"))
    b = elector(leases, clock, "b")
    assert a._try_acquire_or_renew()
    assert not b._try_acquire_or_renew()
    a._stop.set()
    a._step_down()
    assert stopped == ["a"] and not a.is_leader()
    assert leases.lease["spec"]["holderIdentity"] == ""  # type: ignore[index]
    assert b._try_acquire_or_renew()  # no waiting for expiry


def test_run_leads_then_steps_down_on_stop(world: tuple[FakeLeases, Clock]) -> None:
    leases, _ = world
    events: list[str] = []
    a = LeaderElector(
        SimpleNamespace(),
        "ns",
        identity="a",
        timing=TIMING,
        on_started_leading=lambda: (events.append("started"), a.stop()),
        on_stopped_leading=lambda: events.append("stopped"),
    )
    a._leases = leases  # type: ignore[assignment]
    a.run()
    assert events == ["started", "stopped"]
    assert leases.lease["spec"]["holderIdentity"] == ""  # type: ignore[index]


def test_timings_follow_client_go_rules() -> None:
    assert LeaseTiming() == LeaseTiming(15.0, 10.0, 2.0)
    assert LeaseTiming.scaled(15) == LeaseTiming(15.0, 10.0, 2.0)
    with pytest.raises(ValueError, match="greater than renew_deadline"):
        LeaseTiming(10, 10, 2)
    with pytest.raises(ValueError, match="retry_period"):
        LeaseTiming(15, 2, 2)
    with pytest.raises(ValueError, match="whole number"):
        LeaseTiming(2.5, 2, 0.5)
    assert TIMING.request_timeout <= (TIMING.lease_duration - TIMING.renew_deadline) / 2
