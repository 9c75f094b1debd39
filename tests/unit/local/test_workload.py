"""The Workload kind: defaults, and the field path of every refusal."""

from __future__ import annotations

from controller.api.loading import load_text
from controller.api.workload import Workload

HEADER = "apiVersion: sluice.dev/v1beta1\nkind: Workload\nmetadata: {name: podinfo}\n"


def problems(spec: str) -> list[str]:
    return [f"{p.path}: {p.reason}" for p in load_text(HEADER + spec, "w.yaml").problems]


def test_defaults() -> None:
    workload = Workload.model_validate({"metadata": {"name": "x"}, "spec": {"command": ["app"]}})
    assert workload.spec.replicas == 1 and workload.spec.args == [] and workload.spec.env == {}
    assert workload.spec.readiness_probe is None and workload.spec.termination_grace_period_seconds == 10
    probe = Workload.model_validate(
        {"metadata": {"name": "x"}, "spec": {"command": ["app"], "readinessProbe": {}}}
    ).spec.readiness_probe
    assert probe.http_get.path == "/healthz" and probe.failure_threshold == 3


def test_bad_fields_are_named() -> None:
    assert problems("spec: {replicas: 1}")[0].startswith("spec.command:")
    assert problems("spec: {command: []}")[0].startswith("spec.command:")
    assert problems("spec: {command: [a], replicas: -1}")[0].startswith("spec.replicas:")
    assert problems("spec: {command: [a], port: 70000}")[0].startswith("spec.port:")
    assert problems("spec: {command: [a], readinessProbe: {failureThreshold: 0}}")[0].startswith(
        "spec.readinessProbe.failureThreshold:"
    )
    assert problems("spec: {command: [a], replica: 2}")[0].startswith("spec.replica:")


def test_a_valid_workload_loads() -> None:
    assert problems("spec: {command: [a], env: {A: '1'}, readinessProbe: {httpGet: {path: /ready}}}") == []
