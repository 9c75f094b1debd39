"""Revisions: canonical JSON of the spec as written, replicas left out."""

from __future__ import annotations

from controller.api.workload import WorkloadSpec
from controller.platforms.local.revision import canonical_json, spec_revision


def spec(**fields) -> WorkloadSpec:
    return WorkloadSpec.model_validate({"command": ["app"], **fields})


def test_canonical_json_sorts_keys_without_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == '{"a":[1,{"c":"é","d":2}],"b":1}'


def test_same_spec_written_in_another_key_order_has_the_same_revision() -> None:
    one = WorkloadSpec.model_validate({"command": ["app"], "env": {"A": "1", "B": "2"}, "args": ["-v"]})
    two = WorkloadSpec.model_validate({"args": ["-v"], "env": {"B": "2", "A": "1"}, "command": ["app"]})
    assert spec_revision(one) == spec_revision(two)


def test_replicas_do_not_change_the_revision_but_anything_else_does() -> None:
    base = spec_revision(spec())
    assert spec_revision(spec(replicas=5)) == base
    assert spec_revision(spec(env={"A": "1"})) != base
    assert spec_revision(spec(args=["--version", "v2"])) != base
    assert spec_revision(spec(readinessProbe={"httpGet": {"path": "/ready"}})) != base


def test_the_revision_is_a_sha256_hex_digest() -> None:
    revision = spec_revision(spec())
    assert len(revision) == 64 and int(revision, 16) >= 0
