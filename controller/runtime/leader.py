"""Leader election on a coordination.k8s.io/v1 Lease: two or more replicas, exactly one acting.

Why not `kubernetes.leaderelection` from the client: the project writes its own code, and this one needs
three things that module lacks: `is_leader()` that turns false on its own once renewals stop (for /readyz and
as a fence before a tick writes), a release on shutdown so a rolling restart hands over in one retry period
instead of a whole lease duration, and timings that tests can scale down to seconds.

The algorithm is client-go's (`tools/leaderelection`), with its safety rules:

- Every write is a full replace carrying the `resourceVersion` that was read, so two candidates racing for
  an expired Lease cannot both win: the apiserver answers 409 Conflict to the slower one.
- Expiry is judged by the *local* clock: a candidate notes when it last saw the Lease record change and
  takes over only after `leaseDurationSeconds` more without a change. The holder's `renewTime` is never
  compared with our clock, so clock skew between nodes does not matter.
- The leader stops acting when it has failed to renew for `renew_deadline`, which is shorter than the lease
  duration, so it steps down before anyone else can take over. After losing the lease the elector stops; the
  process is expected to exit and be restarted (a controller that may have missed events starts clean).

Timings follow client-go's defaults (15 s / 10 s / 2 s); `LeaseTiming.scaled()` shrinks them for tests.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import ApiClient, CoordinationV1Api
from kubernetes.client.rest import ApiException

log = logging.getLogger("sluice.leader")

JITTER = 1.2  # client-go's JitterFactor: candidates spread their attempts over up to 2.2 retry periods


@dataclass(frozen=True)
class LeaseTiming:
    """How long a lease lasts, how long the leader keeps trying to renew, how often anyone tries."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if self.lease_duration < 1 or self.lease_duration != int(self.lease_duration):
            raise ValueError("lease_duration must be a whole number of seconds >= 1 (Lease stores seconds)")
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if not self.renew_deadline > JITTER * self.retry_period:
            raise ValueError(f"renew_deadline must be greater than {JITTER} x retry_period")

    @classmethod
    def scaled(cls, lease_duration: int) -> LeaseTiming:
        """client-go's 15/10/2 proportions for a shorter lease (tests: 3 -> 3 s / 2 s / 0.4 s)."""
        return cls(float(lease_duration), lease_duration * 2 / 3, lease_duration * 2 / 15)

    @property
    def request_timeout(self) -> float:
        """One API call may not outlast the slack between renew deadline and lease expiry."""
        return max(0.2, min(2 * self.retry_period, (self.lease_duration - self.renew_deadline) / 2))


def default_identity() -> str:
    """hostname (the pod name in a cluster) plus a random suffix, so a restarted pod is a new candidate."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return _micro_time(value) if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class LeaseRecord:
    """The Lease fields election cares about, as read (resource_version included for the next write)."""

    holder: str
    lease_duration_seconds: int
    acquire_time: str | None
    renew_time: str | None
    transitions: int
    resource_version: str

    @classmethod
    def of(cls, lease: Any) -> LeaseRecord:
        spec = lease.spec
        return cls(
            holder=(spec.holder_identity or "") if spec else "",
            lease_duration_seconds=int((spec.lease_duration_seconds or 0) if spec else 0),
            acquire_time=_as_text(spec.acquire_time) if spec else None,
            renew_time=_as_text(spec.renew_time) if spec else None,
            transitions=int((spec.lease_transitions or 0) if spec else 0),
            resource_version=lease.metadata.resource_version,
        )

    def same_record(self, other: LeaseRecord | None) -> bool:
        """Everything but the resourceVersion: what tells a live holder from a dead one."""
        return other is not None and (
            self.holder,
            self.lease_duration_seconds,
            self.acquire_time,
            self.renew_time,
            self.transitions,
        ) == (
            other.holder,
            other.lease_duration_seconds,
            other.acquire_time,
            other.renew_time,
            other.transitions,
        )


class LeaderElector:
    """Campaign for one Lease on a background thread; call `start()`, then `stop()` on shutdown.

    `on_started_leading` runs on the election thread once the Lease is ours and must return promptly (start
    the scheduler, do not run it). `on_stopped_leading` runs once when leadership ends: lost (renewals failed
    for `renew_deadline`, or someone else holds the Lease) or given up by `stop()`.
    """

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        name: str = "sluice-leader",
        identity: str | None = None,
        timing: LeaseTiming | None = None,
        on_started_leading: Callable[[], None] = lambda: None,
        on_stopped_leading: Callable[[], None] = lambda: None,
        release_on_stop: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.timing = timing or LeaseTiming()
        self._leases = CoordinationV1Api(api)
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._release_on_stop = release_on_stop
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._leading = False
        self._renewed_at = 0.0
        self._stopped_called = False

    # -- public

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="sluice-leader-election", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """End the campaign; a leader releases the Lease so a standby takes over at its next retry."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout if timeout is not None else self.timing.renew_deadline + 1)

    def is_leader(self) -> bool:
        """True while we hold the Lease and renewed it within the renew deadline (the /readyz answer)."""
        with self._lock:
            fresh = self._clock() - self._renewed_at < self.timing.renew_deadline
            return self._leading and fresh

    @property
    def holder(self) -> str | None:
        """The holder as last observed (ours or another candidate's)."""
        observed = self._observed
        return observed.holder if observed is not None and observed.holder else None

    def run(self) -> None:
        """Blocking: acquire, lead until the lease is lost or `stop()` is called, then return."""
        try:
            if not self._acquire():
                return
            log.info("became leader", extra={"lease": self._lease_ref(), "identity": self.identity})
            self._on_started()
            self._renew_until_lost()
        finally:
            self._step_down()

    # -- phases

    def _acquire(self) -> bool:
        log.info("campaigning for lease", extra={"lease": self._lease_ref(), "identity": self.identity})
        while not self._stop.is_set():
            if self._try_acquire_or_renew():
                return True
            period = self.timing.retry_period * (1 + random.random() * JITTER)
            self._stop.wait(period)
        return False

    def _renew_until_lost(self) -> None:
        while not self._stop.wait(self.timing.retry_period):
            if self._try_acquire_or_renew():
                continue
            if self._holder_is_other():
                log.warning("lease taken by %s", self.holder, extra={"lease": self._lease_ref()})
                return
            if self._clock() - self._renewed_at >= self.timing.renew_deadline:
                log.error(
                    "failed to renew the lease for %.1f s; stepping down",
                    self._clock() - self._renewed_at,
                    extra={"lease": self._lease_ref()},
                )
                return

    def _step_down(self) -> None:
        with self._lock:
            was_leading, self._leading = self._leading, False
        if not was_leading:
            return
        if self._stop.is_set() and self._release_on_stop:
            self._release()
        if not self._stopped_called:
            self._stopped_called = True
            log.info("stopped leading", extra={"lease": self._lease_ref(), "identity": self.identity})
            self._on_stopped()

    # -- one attempt

    def _try_acquire_or_renew(self) -> bool:
        """One round of client-go's tryAcquireOrRenew; False on any failure (the caller retries)."""
        now = datetime.now(UTC)
        timeout = self.timing.request_timeout
        try:
            lease = self._leases.read_namespaced_lease(self.name, self.namespace, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("reading lease failed: %s", _reason(exc), extra={"lease": self._lease_ref()})
                return False
            return self._create(now)
        except Exception as exc:  # connection refused, timeout: not fatal, just not renewed
            log.warning("reading lease failed: %s", exc, extra={"lease": self._lease_ref()})
            return False

        record = LeaseRecord.of(lease)
        if not record.same_record(self._observed):
            self._observed, self._observed_at = record, self._clock()
        mine = record.holder == self.identity
        if record.holder and not mine and self._valid(record):
            return False  # someone else holds a lease that has not expired (by our clock)

        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.timing.lease_duration),
            "acquireTime": record.acquire_time if mine else _micro_time(now),
            "renewTime": _micro_time(now),
            "leaseTransitions": record.transitions if mine else record.transitions + 1,
        }
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": record.resource_version,
            },
            "spec": spec,
        }
        try:
            updated = self._leases.replace_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=timeout
            )
        except ApiException as exc:
            if exc.status != 409:
                log.warning("updating lease failed: %s", _reason(exc), extra={"lease": self._lease_ref()})
            return False  # 409: another candidate wrote first; read again next round
        except Exception as exc:
            log.warning("updating lease failed: %s", exc, extra={"lease": self._lease_ref()})
            return False
        self._won(LeaseRecord.of(updated))
        return True

    def _create(self, now: datetime) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.timing.lease_duration),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            created = self._leases.create_namespaced_lease(
                self.namespace, body, _request_timeout=self.timing.request_timeout
            )
        except ApiException as exc:
            if exc.status != 409:
                log.warning("creating lease failed: %s", _reason(exc), extra={"lease": self._lease_ref()})
            return False
        except Exception as exc:
            log.warning("creating lease failed: %s", exc, extra={"lease": self._lease_ref()})
            return False
        self._won(LeaseRecord.of(created))
        return True

    def _won(self, record: LeaseRecord) -> None:
        now = self._clock()
        self._observed, self._observed_at = record, now
        with self._lock:
            self._leading = True
            self._renewed_at = now

    def _release(self) -> None:
        """Hand the Lease back: empty holder, so any candidate may take it at once (client-go's release)."""
        observed = self._observed
        if observed is None or observed.holder != self.identity:
            return
        now = _micro_time(datetime.now(UTC))
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": observed.resource_version,
            },
            "spec": {
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": observed.transitions,
            },
        }
        try:
            self._leases.replace_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=self.timing.request_timeout
            )
            log.info("released lease", extra={"lease": self._lease_ref()})
        except Exception as exc:  # the lease simply expires instead
            log.warning("releasing lease failed: %s", exc, extra={"lease": self._lease_ref()})

    # -- helpers

    def _valid(self, record: LeaseRecord) -> bool:
        return self._clock() < self._observed_at + record.lease_duration_seconds

    def _holder_is_other(self) -> bool:
        observed = self._observed
        return observed is not None and bool(observed.holder) and observed.holder != self.identity

    def _lease_ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def _reason(exc: ApiException) -> str:
    return f"{exc.status} {exc.reason}"
