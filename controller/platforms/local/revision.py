"""What a Workload runs, as one stable string: sha256 of the canonical JSON of its spec.

Canonical JSON (sorted keys, no whitespace) of the spec as its author wrote it, so the hash moves only
when the author changes something: not when a library upgrade changes how objects print (Flagger #1673),
and not when sluice changes a default. `replicas` is left out: scaling is not a new version, just as
Flagger hashes a Deployment's pod template and not its replica count.
"""

from __future__ import annotations

import hashlib
import json

from controller.api.base import Model
from controller.api.workload import WorkloadSpec


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_written(model: Model) -> dict:
    """The fields its author set, camelCase: what the store keeps and what the revision hashes."""
    return model.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")


def spec_revision(spec: WorkloadSpec) -> str:
    written = {key: value for key, value in as_written(spec).items() if key != "replicas"}
    return hashlib.sha256(canonical_json(written).encode()).hexdigest()
