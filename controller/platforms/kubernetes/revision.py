"""What a workload runs, as one string: sha256 of the canonical JSON of its pod template.

Canonical JSON (sorted keys, no whitespace; the same function local mode uses) of the template exactly as
the API server returns it, so the hash moves only when the template does: never because sluice or its
client library was upgraded and printed an object differently (Flagger #1673 hashes a Go deep-print).
Replicas are outside the template, so scaling is not a new revision. Tracked ConfigMaps and Secrets get
their own checksums (of `data` and `binaryData`), kept beside the hash in status.
"""

from __future__ import annotations

import hashlib
from typing import Any

from controller.platforms.local.revision import canonical_json


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def template_revision(workload: dict[str, Any]) -> str:
    return sha256_of(workload["spec"]["template"])


def config_checksum(config: dict[str, Any]) -> str:
    return sha256_of({"data": config.get("data") or {}, "binaryData": config.get("binaryData") or {}})
