"""Each Canary rule, bad and good: a broken manifest yields exactly the line a user would read."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api.canary import Canary
from controller.api.loading import parse_document
from tests.unit.api.documents import canary

MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]
WEBHOOK = {"name": "hook", "url": "http://hooks.test/"}
METRIC = {"name": "request-success-rate", "thresholdRange": {"min": 99}}


def problems(document: Any) -> list[str]:
    resource, found = parse_document(document, "c.yaml", 1)
    assert (resource is None) == bool(found)
    return [str(problem) for problem in found]


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("step weight zero", canary(stepWeight=0), "spec.analysis.stepWeight: must be between 1 and 100 (got 0)"),
    (
        "step weight over 100",
        canary(stepWeight=101),
        "spec.analysis.stepWeight: must be between 1 and 100 (got 101)",
    ),
    ("max weight zero", canary(maxWeight=0), "spec.analysis.maxWeight: must be between 1 and 100 (got 0)"),
    (
        "step weights not ascending",
        canary(stepWeight=None, stepWeights=[5, 10, 10]),
        "spec.analysis.stepWeights[2]: must be greater than the step before it (10)",
    ),
    (
        "step weights over 100",
        canary(stepWeight=None, stepWeights=[50, 101]),
        "spec.analysis.stepWeights[1]: must be between 1 and 100 (got 101)",
    ),
    (
        "step weights empty",
        canary(stepWeight=None, stepWeights=[]),
        "spec.analysis.stepWeights: must list at least one weight",
    ),
    ("negative threshold", canary(threshold=-1), "spec.analysis.threshold: must be at least 0 (got -1)"),
    (
        "step weight promotion over 100",
        canary(stepWeightPromotion=150),
        "spec.analysis.stepWeightPromotion: must be between 0 and 100 (got 150)",
    ),
    (
        "ready threshold over 100",
        canary(canaryReadyThreshold=120),
        "spec.analysis.canaryReadyThreshold: must be between 0 and 100 (got 120)",
    ),
    (
        "mirror weight negative",
        canary(mirror=True, mirrorWeight=-5),
        "spec.analysis.mirrorWeight: must be between 0 and 100 (got -5)",
    ),
    (
        "progress deadline zero",
        canary(spec={"progressDeadlineSeconds": 0}),
        "spec.progressDeadlineSeconds: must be at least 1 (got 0)",
    ),
    (
        "bad interval",
        canary(interval="1 minute"),
        "spec.analysis.interval: not a duration: '1 minute' (use e.g. 500ms, 30s, 1m, 1h)",
    ),
    (
        "interval as a number",
        canary(interval=60),
        "spec.analysis.interval: not a duration: 60 (add a unit, e.g. 60s)",
    ),
    ("missing interval", canary(interval=None), "spec.analysis.interval: required"),
    ("missing threshold", canary(threshold=None), "spec.analysis.threshold: required"),
    (
        "no way to progress",
        canary(stepWeight=None),
        "spec.analysis: needs one of iterations (A/B, blue/green) or stepWeight / stepWeights (canary)",
    ),
    (
        "two ways to progress",
        canary(stepWeights=[10, 20]),
        "spec.analysis.stepWeights: set only one of iterations, stepWeight, stepWeights "
        "(got stepWeight and stepWeights)",
    ),
    (
        "zero iterations",
        canary(stepWeight=None, iterations=0),
        "spec.analysis.iterations: must be at least 1 (got 0)",
    ),
    (
        "strategy canary with iterations",
        canary(stepWeight=None, maxWeight=None, iterations=5, strategy="canary"),
        "spec.analysis.iterations: not used by strategy canary (use stepWeight or stepWeights)",
    ),
    (
        "strategy ab without iterations",
        canary(strategy="ab", match=MATCH),
        "spec.analysis.iterations: required by strategy ab",
    ),
    (
        "strategy ab without match",
        canary(stepWeight=None, iterations=5, strategy="ab"),
        "spec.analysis.match: required by strategy ab (the requests to send to the canary)",
    ),
    (
        "strategy bluegreen with match",
        canary(stepWeight=None, iterations=5, strategy="bluegreen", match=MATCH),
        "spec.analysis.match: not used by strategy bluegreen (use strategy ab to route by match)",
    ),
    (
        "unknown strategy",
        canary(strategy="rolling"),
        "spec.analysis.strategy: must be one of canary, ab or bluegreen (got 'rolling')",
    ),
    (
        "no analysis",
        canary(spec={"analysis": None}),
        "spec.analysis: required (interval, threshold and one of iterations, stepWeight, stepWeights)",
    ),
    (
        "analysis twice",
        canary(spec={"canaryAnalysis": {"interval": "1m", "threshold": 1, "stepWeight": 5}}),
        "spec.canaryAnalysis: set analysis or its deprecated alias canaryAnalysis, not both",
    ),
    (
        "same cookie names",
        canary(sessionAffinity={"cookieName": "v", "primaryCookieName": "v"}),
        "spec.analysis.sessionAffinity.primaryCookieName: must differ from cookieName (both 'v')",
    ),
    (
        "unknown target kind",
        canary(spec={"targetRef": {"kind": "StatefulSet", "name": "db"}}),
        "spec.targetRef.kind: must be one of Deployment, DaemonSet, Service, Workload (got 'StatefulSet')",
    ),
    (
        "missing target kind",
        canary(spec={"targetRef": {"name": "podinfo"}}),
        "spec.targetRef.kind: required (one of Deployment, DaemonSet, Service, Workload)",
    ),
    (
        "unknown autoscaler kind",
        canary(spec={"autoscalerRef": {"kind": "VerticalPodAutoscaler", "name": "p"}}),
        "spec.autoscalerRef.kind: must be one of HorizontalPodAutoscaler, ScaledObject "
        "(got 'VerticalPodAutoscaler')",
    ),
    (
        "service port zero",
        canary(spec={"service": {"port": 0}}),
        "spec.service.port: must be between 1 and 65535 (got 0)",
    ),
    ("service port missing", canary(spec={"service": {"name": "web"}}), "spec.service.port: required"),
    (
        "metric without a source",
        canary(metrics=[METRIC, {"name": "error-rate"}]),
        "spec.analysis.metrics[1].templateRef: required: 'error-rate' is not a builtin metric "
        "(request-success-rate, request-duration); set templateRef (or query)",
    ),
    (
        "empty threshold range",
        canary(metrics=[{"name": "request-duration", "thresholdRange": {"min": 500, "max": 100}}]),
        "spec.analysis.metrics[0].thresholdRange.min: must not be greater than max (500 > 100)",
    ),
    (
        "negative min requests",
        canary(metrics=[{**METRIC, "minRequests": -1}]),
        "spec.analysis.metrics[0].minRequests: must be at least 0 (got -1)",
    ),
    (
        "unknown webhook type",
        canary(webhooks=[{**WEBHOOK, "type": "pre-deploy"}]),
        "spec.analysis.webhooks[0].type: must be one of confirm-rollout, pre-rollout, rollout, "
        "confirm-traffic-increase, confirm-promotion, post-rollout, rollback or event (got 'pre-deploy')",
    ),
    (
        "gate timeout on a rollout hook",
        canary(webhooks=[{**WEBHOOK, "gateTimeout": "5m"}]),
        "spec.analysis.webhooks[0].gateTimeout: only applies to confirm-rollout, confirm-traffic-increase, "
        "confirm-promotion webhooks (this one is rollout)",
    ),
    (
        "bad gate timeout",
        canary(webhooks=[{**WEBHOOK, "type": "confirm-promotion", "gateTimeout": "soon"}]),
        "spec.analysis.webhooks[0].gateTimeout: not a duration: 'soon' (use e.g. 500ms, 30s, 1m, 1h)",
    ),
    ("webhook without url", canary(webhooks=[{"name": "x"}]), "spec.analysis.webhooks[0].url: required"),
    (
        "unknown severity",
        canary(alerts=[{"name": "a", "severity": "critical", "providerRef": {"name": "slack"}}]),
        "spec.analysis.alerts[0].severity: must be one of info, warn or error (got 'critical')",
    ),
    (
        "two matchers in one",
        canary(match=[{"headers": {"x-user": {"exact": "a", "prefix": "b"}}}]),
        "spec.analysis.match[0].headers.x-user: set exactly one of exact, prefix, suffix, regex "
        "(got exact and prefix)",
    ),
    (
        "regex that does not compile",
        canary(match=[*MATCH, {"uri": {"regex": "(v2"}}]),
        "spec.analysis.match[1].uri.regex: not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
    ),
    (
        "two webhooks with one name",
        canary(webhooks=[WEBHOOK, {"name": "load", "url": "http://l/"}, WEBHOOK]),
        "spec.analysis.webhooks[2].name: 'hook' is already used by webhooks[0]",
    ),
    (
        "two metrics with one name",
        canary(metrics=[METRIC, METRIC]),
        "spec.analysis.metrics[1].name: 'request-success-rate' is already used by metrics[0]",
    ),
    (
        "name kubernetes would refuse",
        {**canary(), "metadata": {"name": "Pod_Info"}},
        "metadata.name: must be lowercase letters, digits, '-' or '.', starting and ending with a letter or "
        "digit, at most 253 characters (got 'Pod_Info')",
    ),
    (
        "namespace with a dot",
        {**canary(), "metadata": {"name": "podinfo", "namespace": "team.a"}},
        "metadata.namespace: must be lowercase letters, digits or '-', starting and ending with a letter or "
        "digit, at most 63 characters (got 'team.a')",
    ),
    ("missing metadata name", {**canary(), "metadata": {"namespace": "x"}}, "metadata.name: required"),
    ("spec is a list", {**canary(), "spec": []}, "spec: must be a mapping (got a list)"),
]


@pytest.mark.parametrize(("document", "line"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_broken_rule_is_one_line_naming_the_field(document: dict[str, Any], line: str) -> None:
    assert problems(document) == [f"c.yaml#1: {line}"]


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("step weight", canary()),
    ("step weights", canary(stepWeight=None, maxWeight=None, stepWeights=[1, 2, 10, 80])),
    ("blue/green", canary(stepWeight=None, maxWeight=None, iterations=10)),
    ("a/b", canary(stepWeight=None, maxWeight=None, iterations=10, match=MATCH)),
    ("named strategy", canary(stepWeight=None, iterations=10, match=MATCH, strategy="ab")),
    ("mirroring", canary(stepWeight=None, iterations=10, mirror=True, mirrorWeight=0)),
    ("edges of ranges", canary(stepWeight=100, maxWeight=1, threshold=0, primaryReadyThreshold=0)),
    ("durations", canary(interval="1h30m", metrics=[{**METRIC, "interval": "500ms", "minRequests": 0}])),
    ("custom metric", canary(metrics=[{"name": "errors", "templateRef": {"name": "errors"}}])),
    ("inline query", canary(metrics=[{"name": "errors", "query": "sum(x)", "threshold": 1}])),
    ("gate with timeout", canary(webhooks=[{**WEBHOOK, "type": "confirm-rollout", "gateTimeout": "30m"}])),
    (
        "other hook types",
        canary(webhooks=[{**WEBHOOK, "name": t, "type": t} for t in ("rollback", "event", "post-rollout")]),
    ),
    ("cookies", canary(sessionAffinity={"cookieName": "c", "primaryCookieName": "p", "maxAge": 60})),
    ("daemonset", canary(spec={"targetRef": {"kind": "DaemonSet", "name": "agent"}})),
    ("local workload", canary(spec={"targetRef": {"kind": "Workload", "name": "web"}})),
    ("named service port", canary(spec={"service": {"port": 80, "targetPort": "http"}})),
]


@pytest.mark.parametrize("document", [case[1] for case in GOOD], ids=[case[0] for case in GOOD])
def test_valid_variants_load(document: dict[str, Any]) -> None:
    assert problems(document) == []


def test_several_problems_in_one_document_are_all_reported() -> None:
    document = canary(
        threshold=-2, maxWeight=500, alerts=[{"name": "a", "severity": "page", "providerRef": {"name": "x"}}]
    )
    assert problems(document) == [
        "c.yaml#1: spec.analysis.threshold: must be at least 0 (got -2)",
        "c.yaml#1: spec.analysis.maxWeight: must be between 1 and 100 (got 500)",
        "c.yaml#1: spec.analysis.alerts[0].severity: must be one of info, warn or error (got 'page')",
    ]


def test_rules_hold_for_models_built_in_code_too() -> None:
    with pytest.raises(ValueError, match="must be between 1 and 100"):
        Canary.model_validate(canary(stepWeight=0))
