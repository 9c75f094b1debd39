"""`sluice validate`: check manifests before they reach a cluster or local mode, every problem at once."""

from __future__ import annotations

from pathlib import Path

import click

from controller.api.loading import load_paths
from controller.cli.options import files_option

_EPILOG = """\b
Examples:
  sluice validate -f examples/
  sluice validate -f canary.yaml -f templates/metrics.yaml

\b
Prints one line per problem, e.g.
  canary.yaml#2: spec.analysis.stepWeight: must be between 1 and 100 (got 0)
and exits 1; exits 0 when every document is valid. Documents of other API groups
(Deployments, Services, ...) are skipped; see docs/validate.md.
"""


@click.command(epilog=_EPILOG)
@files_option
def validate(paths: tuple[Path, ...]) -> None:
    """Check Canary, MetricTemplate and AlertProvider manifests."""
    result = load_paths(paths)
    for problem in result.problems:
        click.echo(str(problem))
    skipped = f", {result.skipped} skipped (not sluice resources)" if result.skipped else ""
    if result.problems:
        bad = len({(problem.source, problem.document) for problem in result.problems})
        count = len(result.problems)
        click.echo(f"{count} problem{'s' * (count != 1)} in {bad} of {result.checked} documents", err=True)
        raise SystemExit(1)
    if not result.resources:
        click.echo(f"no sluice resources found in {', '.join(map(str, paths))}{skipped}", err=True)
        raise SystemExit(1)
    count = len(result.resources)
    click.echo(f"{count} document{'s' * (count != 1)} valid{skipped}")
