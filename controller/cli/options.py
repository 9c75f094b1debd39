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
