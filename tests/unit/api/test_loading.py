"""Loading YAML: document numbering, skipping what is not sluice's, syntax errors, unknown-field hints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller.api.canary import Canary
from controller.api.kinds import KINDS
from controller.api.loading import InvalidResource, load_paths, load_text, parse_resource
from controller.api.metric_template import MetricTemplate
from tests.unit.api.documents import canary

ALL_KINDS = ", ".join(KINDS)
REPO = Path(__file__).resolve().parents[3]
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "podinfo"}}
TEMPLATE = {"apiVersion": "sluice.dev/v1beta1", "kind": "MetricTemplate", "metadata": {"name": "m"},
            "spec": {"query": "up"}}


def dump(*documents: object) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


def lines(text: str, source: str = "c.yaml") -> list[str]:
    return [str(problem) for problem in load_text(text, source).problems]


def test_documents_are_numbered_from_one_in_file_order_and_other_kinds_skipped() -> None:
    result = load_text(dump(DEPLOYMENT, canary(), canary(stepWeight=0), TEMPLATE), "app.yaml")
    assert [(item.document, type(item.resource)) for item in result.resources] == [
        (2, Canary),
        (4, MetricTemplate),
    ]
    assert [str(problem) for problem in result.problems] == [
        "app.yaml#3: spec.analysis.stepWeight: must be between 1 and 100 (got 0)"
    ]
    assert result.skipped == 1


def test_empty_documents_keep_their_number() -> None:
    text = "---\n" + dump(TEMPLATE) + "---\n---\n" + dump(canary(threshold=-1))
    assert lines(text) == ["c.yaml#3: spec.analysis.threshold: must be at least 0 (got -1)"]


def test_yaml_syntax_error_names_document_line_and_column() -> None:
    text = "kind: AlertProvider\n---\nkind: AlertProvider\nspec:\n  type: [slack\n"
    assert lines(text)[-1:] == [
        "c.yaml#2: line 6, column 1: YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 5, column 9)"
    ]


def test_a_key_written_twice_is_a_problem_with_its_line() -> None:
    text = "apiVersion: sluice.dev/v1beta1\nkind: AlertProvider\nmetadata: {name: chat}\n"
    text += "spec:\n  type: slack\n  channel: deploys\n  channel: general\n"
    result = load_text(text, "c.yaml")
    assert [str(problem) for problem in result.problems] == [
        "c.yaml#1: line 7, column 3: duplicate key 'channel' (write it once)"
    ]
    assert result.resources == []


def test_unknown_field_suggests_the_nearest_known_name() -> None:
    document = canary()
    document["spec"]["analysis"]["stepWieght"] = 5
    document["spec"]["service"]["target_port"] = 80
    document["spec"]["colour"] = "blue"
    assert lines(dump(document)) == [
        "c.yaml#1: spec.service.target_port: unknown field (did you mean targetPort?)",
        "c.yaml#1: spec.analysis.stepWieght: unknown field (did you mean stepWeight?)",
        "c.yaml#1: spec.colour: unknown field",
    ]


def test_unknown_field_inside_a_list_item_names_the_index() -> None:
    metrics = [{"name": "request-duration"}, {"name": "request-success-rate", "treshold": 99}]
    document = canary(metrics=metrics)
    assert lines(dump(document)) == [
        "c.yaml#1: spec.analysis.metrics[1].treshold: unknown field (did you mean threshold?)"
    ]


def test_flagger_api_version_gets_a_hint_and_the_rest_is_still_checked() -> None:
    document = {**canary(maxWeight=0), "apiVersion": "flagger.app/v1beta1"}
    assert lines(dump(document)) == [
        "c.yaml#1: apiVersion: flagger.app/v1beta1 is Flagger's: change it to sluice.dev/v1beta1",
        "c.yaml#1: spec.analysis.maxWeight: must be between 1 and 100 (got 0)",
    ]


def test_the_flagger_manifest_differs_from_a_flagger_one_only_in_api_version() -> None:
    text = (REPO / "examples" / "flagger-podinfo.yaml").read_text()
    assert load_text(text).problems == []
    as_flagger = text.replace("apiVersion: sluice.dev/v1beta1", "apiVersion: flagger.app/v1beta1")
    assert lines(as_flagger) == [
        "c.yaml#1: apiVersion: flagger.app/v1beta1 is Flagger's: change it to sluice.dev/v1beta1"
    ]


def test_missing_or_wrong_api_version_and_kind() -> None:
    no_header = {key: value for key, value in TEMPLATE.items() if key not in ("apiVersion", "kind")}
    assert lines(dump(no_header)) == [
        "c.yaml#1: apiVersion: required (sluice.dev/v1beta1)",
        f"c.yaml#1: kind: required (one of {ALL_KINDS})",
    ]
    assert lines(dump({**TEMPLATE, "apiVersion": "sluice.dev/v1"})) == [
        "c.yaml#1: apiVersion: must be sluice.dev/v1beta1 (got 'sluice.dev/v1')"
    ]
    [misspelt] = lines(dump({**TEMPLATE, "kind": "MetricTemplates"}))
    assert misspelt.startswith("c.yaml#1: kind: unknown kind 'MetricTemplates' (one of Canary, ")
    assert misspelt.endswith("; did you mean MetricTemplate?")


def test_a_document_that_is_not_a_mapping() -> None:
    assert lines("- a\n- b\n") == [
        "c.yaml#1: not a resource: expected a mapping with apiVersion and kind (got a list)"
    ]


def test_folders_are_read_recursively_skipping_other_files(tmp_path: Path) -> None:
    (tmp_path / "team" / "svc").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "canary.yaml").write_text(dump(canary()))
    (tmp_path / "team" / "svc" / "template.yml").write_text(dump(DEPLOYMENT, TEMPLATE))
    (tmp_path / "team" / "bad.yaml").write_text(dump(canary(threshold=-3)))
    (tmp_path / "team" / "prometheus.yml").write_text("global:\n  scrape_interval: 5s\n")
    (tmp_path / "app.py").write_text("print('not yaml')\n")
    (tmp_path / "notes.txt").write_text("kind: Canary\n")
    (tmp_path / ".git" / "ignored.yaml").write_text("kind: Nonsense\n")

    result = load_paths([tmp_path])

    assert sorted(Path(item.source).name for item in result.resources) == ["canary.yaml", "template.yml"]
    assert [str(problem) for problem in result.problems] == [
        f"{tmp_path / 'team' / 'bad.yaml'}#1: spec.analysis.threshold: must be at least 0 (got -3)"
    ]
    assert result.skipped == 2  # the Deployment and the Prometheus config


def test_a_file_named_on_its_own_is_always_read_as_manifests(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 5s\n")
    assert [str(problem) for problem in load_paths([config]).problems] == [
        f"{config}#1: apiVersion: required (sluice.dev/v1beta1)",
        f"{config}#1: kind: required (one of {ALL_KINDS})",
    ]


def test_parse_resource_raises_with_the_problem_lines() -> None:
    with pytest.raises(InvalidResource) as raised:
        parse_resource(canary(stepWeight=0), source="store:test/podinfo")
    assert str(raised.value) == (
        "store:test/podinfo: spec.analysis.stepWeight: must be between 1 and 100 (got 0)"
    )
    with pytest.raises(InvalidResource, match=r"apiVersion: must be sluice\.dev/v1beta1"):
        parse_resource(DEPLOYMENT)
