"""The `sluice` command: one click group; each subcommand lives in its own module under controller.cli.

A module is listed in COMMANDS as "module:attribute"; a command whose module fails to import is reported
instead of taking the whole CLI down.
"""

from __future__ import annotations

import importlib

import click

from controller import __version__

# "module:attribute" of every subcommand, in the order `sluice --help` lists them.
COMMANDS: list[str] = [
    "controller.cli.validate:validate",
    "controller.cli.run:run",
    "controller.cli.controller:controller",
    "controller.cli.demo:demo",
    "controller.cli.resources:apply",
    "controller.cli.resources:get",
    "controller.cli.resources:delete",
    "controller.cli.resources:events",
    "controller.cli.status:status",
    "controller.cli.wait:wait",
    "controller.cli.commands:promote",
    "controller.cli.commands:abort",
    "controller.cli.commands:pause",
    "controller.cli.commands:resume",
    "controller.cli.commands:retry",
    "controller.cli.loadtester:loadtester",
    "controller.cli.proxy:proxy",
    "controller.cli.notify:notify",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sluice")
def cli() -> None:
    """sluice: progressive delivery (canary, A/B, blue/green) with its own small service mesh."""


def _register() -> None:
    for ref in COMMANDS:
        module_name, attr = ref.split(":")
        module = importlib.import_module(module_name)
        cli.add_command(getattr(module, attr))


def main() -> None:
    _register()
    cli(prog_name="sluice")


if __name__ == "__main__":
    main()
