"""Defaults a user relies on without writing them: the same as Flagger's, except sluice's own names."""

from __future__ import annotations

from controller.api.alert_provider import AlertProvider
from controller.api.canary import Canary, CanaryAnalysis
from controller.api.loading import parse_resource
from controller.api.metric_template import MetricTemplate
from tests.unit.api.documents import canary


def test_canary_defaults_match_flagger() -> None:
    resource = parse_resource(canary())
    assert isinstance(resource, Canary)
    spec = resource.spec
    assert spec.progress_deadline_seconds == 600
    assert (spec.skip_analysis, spec.suspend, spec.revert_on_deletion) == (False, False, False)
    assert spec.apex_name() == "podinfo"
    assert resource.metadata.namespace == "test"
    analysis = spec.get_analysis()
    assert analysis.step_weight_promotion == 0
    assert analysis.iterations == 0
    assert analysis.mirror is False
    assert analysis.effective_strategy() == "canary"


def test_unset_threshold_means_one_failed_check_and_max_weight_defaults_to_100() -> None:
    analysis = CanaryAnalysis()
    assert analysis.interval == "60s"
    assert analysis.interval_seconds() == 60
    assert analysis.failed_checks_threshold() == 1
    assert analysis.effective_max_weight() == 100


def test_max_weight_comes_from_the_last_step_weight() -> None:
    assert CanaryAnalysis(step_weights=[1, 5, 30]).effective_max_weight() == 30
    assert CanaryAnalysis(step_weights=[1, 5, 30], max_weight=20).effective_max_weight() == 20


def test_strategy_is_derived_like_flagger_or_named() -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    assert CanaryAnalysis(iterations=10).effective_strategy() == "bluegreen"
    assert CanaryAnalysis.model_validate({"iterations": 10, "match": match}).effective_strategy() == "ab"
    assert CanaryAnalysis(step_weight=10, strategy="bluegreen").effective_strategy() == "bluegreen"


def test_deprecated_canary_analysis_is_read_when_analysis_is_absent() -> None:
    document = canary()
    document["spec"]["canaryAnalysis"] = document["spec"].pop("analysis")
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    assert resource.spec.get_analysis().step_weight == 10


def test_metric_webhook_alert_and_affinity_defaults() -> None:
    document = canary(
        metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 99}}],
        webhooks=[{"name": "load", "url": "http://loadtester.test/"}],
        alerts=[{"name": "chat", "providerRef": {"name": "slack"}}],
        sessionAffinity={"cookieName": "canary"},
    )
    analysis = parse_resource(document).spec.get_analysis()  # type: ignore[attr-defined]
    assert analysis.metrics[0].interval is None and analysis.metrics[0].min_requests is None
    assert analysis.webhooks[0].hook_type() == "rollout"
    assert (analysis.webhooks[0].mute_alert, analysis.webhooks[0].disable_tls) == (False, False)
    assert analysis.alerts[0].severity == "info"
    assert analysis.session_affinity.max_age == 86400


def test_metric_template_and_alert_provider_defaults() -> None:
    template = parse_resource({"apiVersion": "sluice.dev/v1beta1", "kind": "MetricTemplate",
                               "metadata": {"name": "m"}, "spec": {"query": "up"}})
    assert isinstance(template, MetricTemplate)
    assert template.spec.provider.type == "prometheus"
    assert template.spec.provider.insecure_skip_verify is False
    provider = parse_resource({"apiVersion": "sluice.dev/v1beta1", "kind": "AlertProvider",
                               "metadata": {"name": "a"}, "spec": {"type": "slack"}})
    assert isinstance(provider, AlertProvider)
    assert (provider.spec.channel, provider.spec.username) == ("general", "sluice")


def test_wire_form_is_camel_case_what_was_written_and_loads_back_equal() -> None:
    resource = parse_resource(canary(stepWeightPromotion=20))
    wire = resource.wire()
    assert wire["spec"]["analysis"]["stepWeightPromotion"] == 20
    assert "progressDeadlineSeconds" not in wire["spec"]  # a default, not something the author wrote
    assert "iterations" not in wire["spec"]["analysis"]
    assert parse_resource(wire) == resource


def test_a_canary_built_in_code_is_written_with_api_version_and_kind() -> None:
    document = canary()
    built = Canary.model_validate({"metadata": document["metadata"], "spec": document["spec"]})
    wire = built.wire()
    assert (wire["apiVersion"], wire["kind"]) == ("sluice.dev/v1beta1", "Canary")
    assert parse_resource(wire) == built
