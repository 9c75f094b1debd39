"""Options several commands share, defined once so they read and behave the same everywhere."""

from __future__ import annotations

from pathlib import Path

import click

files_option = click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="A YAML file or a folder (read recursively). Repeatable.",
)


def cluster_options(func: click.decorators.FC) -> click.decorators.FC:
    """`--kubeconfig`, `--context` and `-n/--namespace` for the in-cluster processes (controller, mesh)."""
    for decorator in reversed((
        click.option(
            "--kubeconfig", envvar="KUBECONFIG", default=None, help="Kubeconfig file (default: in-cluster)."
        ),
        click.option("--context", envvar="SLUICE_CONTEXT", default=None, help="Kubeconfig context."),
        click.option(
            "-n", "--namespace", envvar="SLUICE_NAMESPACE", default=None,
            help="Watch one namespace (default: all).",
        ),
    )):
        func = decorator(func)
    return func
