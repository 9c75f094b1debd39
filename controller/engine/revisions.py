"""Is there something new to roll out? Flagger's hasSpecChanged + haveDependenciesChanged.

The target's revision is the hash of its spec plus checksums of the configs it references. Setting the
target back to what the primary runs (lastPromotedSpec) is not a new revision: reverting a bad release
must not start a run of the old one.
"""

from __future__ import annotations

from controller.api.status import CanaryStatus
from controller.engine.observations import RevisionLike


def configs_changed(status: CanaryStatus, revision: RevisionLike) -> bool:
    return dict(revision.tracked_configs) != (status.tracked_configs or {})


def differs_from_applied(status: CanaryStatus, revision: RevisionLike) -> bool:
    """Mid-run: anything other than what this run started with restarts it."""
    return revision.spec_hash != status.last_applied_spec or configs_changed(status, revision)


def is_new_revision(status: CanaryStatus, revision: RevisionLike) -> bool:
    """Between runs: a change, unless it is a return to the primary's own revision."""
    if status.last_applied_spec is None:
        return True
    if revision.spec_hash == status.last_promoted_spec and not configs_changed(status, revision):
        return False
    return differs_from_applied(status, revision)
