"""`sluice validate` as a user runs it: the shipped examples pass, the invalid fixtures fail line by line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli.validate import validate

REPO = Path(__file__).resolve().parents[3]
F = "tests/fixtures/invalid/"
LINE = re.compile(r"^tests/fixtures/invalid/[\w.-]+\.yaml#\d+: (?:[\w\[\].]+: )?\S.*$")


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_examples_folder_is_valid_through_the_installed_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli.main", "validate", "-f", "examples/"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.fullmatch(r"\d+ documents valid(, \d+ skipped \(not sluice resources\))?\n", done.stdout)
    assert int(done.stdout.split()[0]) >= 11


def test_invalid_fixtures_fail_with_one_field_path_line_per_problem() -> None:
    result = CliRunner().invoke(validate, ["-f", F])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    expected = [
        F + "step-weight.yaml#2: spec.analysis.stepWeight: must be between 1 and 100 (got 0)",
        F + "step-weight.yaml#2: spec.analysis.maxWeight: must be between 1 and 100 (got 101)",
        F + "step-weights.yaml#1: spec.analysis.stepWeights[2]: must be greater than the step before it (20)",
        F + "step-weights.yaml#1: spec.analysis.stepWeights[3]: must be between 1 and 100 (got 120)",
        F + "unknown-field.yaml#1: spec.analysis.stepWieght: unknown field (did you mean stepWeight?)",
        F + "unknown-field.yaml#1: spec.progress_deadline_seconds: "
        "unknown field (did you mean progressDeadlineSeconds?)",
        F + "session-affinity.yaml#1: spec.analysis.sessionAffinity.primaryCookieName: "
        "must differ from cookieName (both 'flavour')",
        F + "metrics.yaml#1: spec.analysis.metrics[1].thresholdRange.min: "
        "must not be greater than max (99 > 90)",
        F + "metrics.yaml#1: spec.analysis.metrics[2].minRequests: must be at least 0 (got -1)",
        F + "webhooks-and-alerts.yaml#1: spec.analysis.alerts[0].severity: "
        "must be one of info, warn or error (got 'critical')",
        F + "analysis-shape.yaml#1: spec.analysis.threshold: required",
        F + "analysis-shape.yaml#2: spec.analysis.match: "
        "required by strategy ab (the requests to send to the canary)",
        F + "ranges.yaml#1: spec.analysis.mirrorWeight: must be between 0 and 100 (got 150)",
        F + "ranges.yaml#1: spec.progressDeadlineSeconds: must be at least 1 (got 0)",
        F + "providers.yaml#2: spec.type: "
        "must be one of slack, msteams, discord, gchat, rocket or webhook (got 'pagerduty')",
        F + "flagger-and-kinds.yaml#1: apiVersion: "
        "flagger.app/v1beta1 is Flagger's: change it to sluice.dev/v1beta1",
    ]
    missing = [line for line in expected if line not in lines]
    assert not missing, "\n".join(lines)
    assert any(line.startswith(F + "syntax.yaml#2: line 13, column ") for line in lines)
    every_fixture = {path.name for path in (REPO / "tests/fixtures/invalid").glob("*.yaml")}
    assert {line.split("#")[0].rsplit("/", 1)[1] for line in lines} == every_fixture
    assert re.search(r"^\d+ problems in \d+ of \d+ documents$", result.stderr, re.MULTILINE)


def test_valid_file_prints_a_count_and_exits_zero() -> None:
    result = CliRunner().invoke(
        validate, ["-f", "examples/alert-provider.yaml", "-f", "examples/canary.yaml"]
    )
    assert (result.exit_code, result.stdout) == (0, "4 documents valid\n")


def test_nothing_to_validate_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    result = CliRunner().invoke(validate, ["-f", str(tmp_path)])
    assert result.exit_code == 1
    assert "no sluice resources found" in result.stderr and "1 skipped" in result.stderr


def test_a_missing_path_is_named() -> None:
    result = CliRunner().invoke(validate, ["-f", "no/such/file.yaml"])
    assert result.exit_code == 2
    assert "no/such/file.yaml" in result.output
