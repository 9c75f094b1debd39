"""values.yaml stays in sync with `sluice controller` and with the chart README.

Why: a flag added to the controller without a value is unreachable for chart users, and a value whose
flag was renamed crashes the pod at start (click rejects unknown options). Both directions are checked
against the click command itself, and the rendered args are parsed by it as the container would.
"""

from __future__ import annotations

import re
from typing import Any

import click
import pytest
import yaml

from controller.cli.controller import controller as controller_command
from tests.unit.chart.helm import CHART, one, template

pytestmark = pytest.mark.timeout(1800)

# Not for a pod: in-cluster config replaces --kubeconfig/--context; --host is always 0.0.0.0.
NOT_IN_CHART = {"--kubeconfig", "--context", "--host", "--help"}
EVERY_VALUE = (
    "leaderElection.enabled=true",
    "controller.namespace=team-a",
    "controller.includeLabelPrefix=app.kubernetes.io",
    "controller.clusterName=prod-eu",
    "notifications.slack.url=http://127.0.0.1:9/slack",
    "notifications.slack.token=xoxb-test",
    "notifications.slack.channel=deploys",
    "notifications.slack.user=sluice",
    "notifications.slack.proxyUrl=http://127.0.0.1:9/proxy",
    "notifications.msteamsUrl=http://127.0.0.1:9/teams",
)


def accepted_options() -> dict[str, click.Option]:
    return {
        opt: param
        for param in controller_command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    }


def args_of(*sets: str) -> list[str]:
    (container,) = one(template(*sets), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "controller"
    return container["args"][1:]


def flag_names(args: list[str]) -> set[str]:
    return {arg.split("=")[0] for arg in args if arg.startswith("--")}


def test_every_rendered_flag_is_accepted_by_the_controller() -> None:
    rendered = flag_names(args_of(*EVERY_VALUE)) | flag_names(
        args_of("controller.enableConfigTracking=false")
    )
    unknown = rendered - set(accepted_options())
    assert not unknown, f"the chart passes flags `sluice controller` does not have: {sorted(unknown)}"


def test_every_controller_flag_has_a_value() -> None:
    rendered = flag_names(args_of(*EVERY_VALUE)) | flag_names(
        args_of("controller.enableConfigTracking=false")
    )
    params: dict[str, set[str]] = {}
    for opt, param in accepted_options().items():
        params.setdefault(param.name or opt, set()).add(opt)
    missing = [sorted(opts) for opts in params.values() if not opts & NOT_IN_CHART and not opts & rendered]
    assert not missing, f"`sluice controller` flags with no chart value: {missing}"


def test_the_controller_parses_the_rendered_args() -> None:
    for sets in ((), EVERY_VALUE, ("controller.enableConfigTracking=false", "leaderElection.enabled=false")):
        args = args_of(*sets)
        ctx = controller_command.make_context("controller", args)
        assert ctx.params["port"] == 8080
        assert ctx.params["host"] == "0.0.0.0"


def _leaves(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict) and node:
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


def test_readme_documents_every_value() -> None:
    """Every leaf of values.yaml is in the README's tables, itself or as a documented parent object."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    leaves = _leaves(values)
    readme = (CHART / "README.md").read_text().split("\n## RBAC")[0]  # the values tables
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, re.M))

    def covered(leaf: str) -> bool:
        parts = leaf.split(".")
        return any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1))

    missing = [leaf for leaf in leaves if not covered(leaf)]
    assert not missing, f"charts/sluice/README.md does not document: {missing}"
    stale = sorted(k for k in documented if not any(leaf == k or leaf.startswith(k + ".") for leaf in leaves))
    assert not stale, f"charts/sluice/README.md documents values that do not exist: {stale}"
