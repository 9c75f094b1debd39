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
    "controller.cli.mesh:mesh",
    "controller.cli.notify:notify",
]


def _name(ref: str) -> str:
    return ref.split(":")[1].replace("_", "-")


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that command runs (or for --help).

    `sluice proxy` then loads the proxy and not the Kubernetes client, Slack SDK or Prometheus client the
    other commands need: tens of megabytes less resident memory in the data plane.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [_name(ref) for ref in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = next((r for r in COMMANDS if _name(r) == cmd_name), None)
        if ref is None:
            return None
        module_name, attr = ref.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="sluice")
def cli() -> None:
    """sluice: progressive delivery (canary, A/B, blue/green) with its own small service mesh."""


def main() -> None:
    cli(prog_name="sluice")


if __name__ == "__main__":
    main()
