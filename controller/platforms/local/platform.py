"""The local Platform: a Canary whose targetRef is a Workload, run as local processes.

Like Flagger with Deployments: the target Workload `<name>` is what users edit; sluice keeps a copy of the
last promoted spec as the Workload `<name>-primary` in the store. Processes run in two groups per target,
`primary` (the `-primary` copy) and `canary` (the target's current spec, only while a rollout needs it).

Promotion without failed requests is a three-step handshake with the runtime, because only the runtime
moves traffic:

1. `promote(canary)` copies the target's spec to `<name>-primary` and starts the new primary processes
   next to the old ones (which keep serving).
2. The runtime polls `primary_readiness(canary)` until the new processes are ready (threshold and
   progress deadline apply), then points the router at `endpoints(canary, "primary")`; until then that
   call keeps returning the old, serving processes, so the router can ask at any time.
3. The runtime calls `retire_old_primary(canary, routed)` with the addresses the router now uses: the
   old processes not among them get SIGTERM and finish their in-flight requests. It is idempotent and
   cheap, so calling it on every tick also cleans up after a controller that died between steps 2 and 3.

Deletion: `revert` (revertOnDeletion) leaves the target's processes running as the canary group and
stops the primary; `delete` stops everything (Flagger's garbage-collected primary).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from typing import Literal

from controller.api.canary import Canary
from controller.api.meta import ObjectMeta
from controller.api.workload import Workload
from controller.platforms.local.process_records import GroupKey
from controller.platforms.local.revision import spec_revision
from controller.platforms.local.store import LocalStore
from controller.platforms.local.supervisor import GroupStatus, Supervisor
from controller.ports.platform import Readiness, Revision
from controller.ports.store import NotFound

Role = Literal["primary", "canary"]
PRIMARY_OF_LABEL = "sluice.dev/primary-of"
REVERT_TIMEOUT = 60.0


class TargetError(Exception):
    """The canary's targetRef does not name a Workload that local mode can run."""


class LocalPlatform:
    """Implements controller.ports.platform.Platform, plus `endpoints`, `retire_old_primary` and `delete`."""

    def __init__(
        self, store: LocalStore, supervisor: Supervisor, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.supervisor = supervisor
        self._clock = clock
        # Groups seen ready at their current revision, and since when they are not: a process that crashes
        # long after its rollout is a new wait, not an expired progress deadline.
        self._was_ready: dict[GroupKey, str] = {}
        self._unready_since: dict[GroupKey, float] = {}

    # -- the Platform port -------------------------------------------------------------------------------

    def initialize(self, canary: Canary) -> None:
        """Make `<name>-primary` from the target if missing and keep its processes (and a canary) running.

        Called on every tick: it is also where a canary group follows edits of the target mid-rollout.
        """
        target = self._target(canary)
        primary = self._primary(canary)
        if primary is None:
            primary = self._write_primary(canary, target)
        self.supervisor.run(self._key(canary, "primary"), primary.spec, spec_revision(primary.spec))
        if self.supervisor.status(self._key(canary, "canary")) is not None:
            self.scale_from_zero(canary)

    def revision(self, canary: Canary) -> Revision:
        return Revision(spec_hash=spec_revision(self._target(canary).spec))

    def primary_readiness(self, canary: Canary) -> Readiness:
        return self._readiness(canary, "primary")

    def canary_readiness(self, canary: Canary) -> Readiness:
        return self._readiness(canary, "canary")

    def scale_to_zero(self, canary: Canary) -> None:
        self.supervisor.stop(self._key(canary, "canary"))

    def scale_from_zero(self, canary: Canary) -> None:
        """Run the target's current spec as the canary: its own replicas, else the primary's, else 1."""
        target = self._target(canary)
        replicas = target.spec.replicas or self._primary_replicas(canary) or 1
        key = self._key(canary, "canary")
        spec = target.spec.model_copy(update={"replicas": replicas})
        self.supervisor.run(key, spec, spec_revision(target.spec))
        self.supervisor.retire_outgoing(key)  # an edited target replaces its canary at once (no traffic yet)

    def promote(self, canary: Canary) -> None:
        """Copy the target's spec to `<name>-primary` and start its processes; the old ones keep serving."""
        primary = self._write_primary(canary, self._target(canary))
        self.supervisor.run(self._key(canary, "primary"), primary.spec, spec_revision(primary.spec))

    def revert(self, canary: Canary) -> None:
        """revertOnDeletion: the target's own processes take over, then the primary goes.

        Blocks until the target is ready (at most the progress deadline, capped at REVERT_TIMEOUT) and
        raises TimeoutError, keeping the primary, if it is not: the runtime tries again on the next tick.
        """
        self.scale_from_zero(canary)
        deadline = time.monotonic() + min(canary.spec.progress_deadline_seconds, REVERT_TIMEOUT)
        while not (readiness := self.canary_readiness(canary)).ready:
            if readiness.state == "failed" or time.monotonic() >= deadline:
                raise TimeoutError(f"revert of {canary.metadata.name}: target not ready ({readiness.reason})")
            time.sleep(0.1)
        self._drop_primary(canary)

    # -- local extras ------------------------------------------------------------------------------------

    def endpoints(self, canary: Canary, role: Role) -> list[str]:
        """`127.0.0.1:PORT` of the processes that should get `role`'s traffic now.

        The current revision's ready processes once enough are ready (the readiness threshold); before
        that, during a promotion, the outgoing processes that still serve.
        """
        status = self.supervisor.status(self._key(canary, role))
        if status is None:
            return []
        current = [r.address for r in status.current if r.ready]
        if status.ready >= self._needed(canary, role, status) or not status.outgoing:
            return current
        return [r.address for r in status.outgoing if r.ready] or current

    def retire_old_primary(self, canary: Canary, routed: Collection[str]) -> int:
        """Stop outgoing primary processes whose address the router no longer uses; how many stopped.

        Does nothing until the new primary is ready, whatever `routed` says.
        """
        if not self.primary_readiness(canary).ready:
            return 0
        return self.supervisor.retire_outgoing(self._key(canary, "primary"), keep=routed)

    def delete(self, canary: Canary) -> None:
        """The canary is gone without revertOnDeletion: stop its processes and drop `<name>-primary`."""
        self.scale_to_zero(canary)
        self._drop_primary(canary)

    # -- helpers -----------------------------------------------------------------------------------------

    def _target(self, canary: Canary) -> Workload:
        ref = canary.spec.target_ref
        if ref.kind not in (None, "Workload"):
            raise TargetError(f"spec.targetRef.kind: local mode runs Workloads, not {ref.kind}")
        try:
            return self.store.get("Workload", canary.metadata.namespace, ref.name)  # type: ignore[return-value]
        except NotFound:
            raise TargetError(
                f"spec.targetRef: Workload {canary.metadata.namespace}/{ref.name} not found"
            ) from None

    def _primary(self, canary: Canary) -> Workload | None:
        try:
            return self.store.get("Workload", canary.metadata.namespace, _primary_name(canary))  # type: ignore[return-value]
        except NotFound:
            return None

    def _primary_replicas(self, canary: Canary) -> int:
        primary = self._primary(canary)
        return primary.spec.replicas if primary else 0

    def _write_primary(self, canary: Canary, target: Workload) -> Workload:
        labels = {**(target.metadata.labels or {}), PRIMARY_OF_LABEL: target.metadata.name}
        metadata = ObjectMeta(name=_primary_name(canary), namespace=canary.metadata.namespace, labels=labels)
        primary = Workload(
            metadata=metadata,
            spec=target.spec.model_copy(update={"replicas": target.spec.replicas or 1}),
        )
        return self.store.apply(primary)[0]  # type: ignore[return-value]

    def _drop_primary(self, canary: Canary) -> None:
        self.supervisor.stop(self._key(canary, "primary"))
        if self._primary(canary) is not None:
            self.store.remove("Workload", canary.metadata.namespace, _primary_name(canary))

    def _key(self, canary: Canary, role: Role) -> GroupKey:
        return GroupKey(canary.metadata.namespace, canary.spec.target_ref.name, role)

    def _needed(self, canary: Canary, role: Role, status: GroupStatus) -> int:
        """Ready processes needed: the role's readyThreshold percent (default 100) of desired, at least 1."""
        analysis = canary.spec.get_analysis()
        threshold = analysis.primary_ready_threshold if role == "primary" else analysis.canary_ready_threshold
        return max(math.ceil(status.desired * (threshold or 100) / 100), 1)

    def _readiness(self, canary: Canary, role: Role) -> Readiness:
        name = f"{canary.spec.target_ref.name}-{role}"
        key = self._key(canary, role)
        status = self.supervisor.status(key)
        if status is None:
            return Readiness("waiting", f"{name} is not running")
        if status.desired == 0:
            return Readiness("failed", f"{name} has 0 replicas")
        needed = self._needed(canary, role, status)
        if status.ready >= needed:
            self._was_ready[key] = status.revision
            self._unready_since.pop(key, None)
            return Readiness("ready")
        progress = f"{status.ready} of {status.desired} processes ready (need {needed})"
        began = status.since
        if self._was_ready.get(key) == status.revision:
            began = self._unready_since.setdefault(key, self._clock())
        waited = self._clock() - began
        if waited > canary.spec.progress_deadline_seconds:
            return Readiness("failed", f"{name} progress deadline exceeded after {waited:.0f}s: {progress}")
        return Readiness("waiting", f"waiting for {name} rollout: {progress}")


def _primary_name(canary: Canary) -> str:
    return f"{canary.spec.target_ref.name}-primary"
