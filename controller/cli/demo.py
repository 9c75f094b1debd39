"""`sluice demo`: a whole rollout on this machine in about a minute."""

from __future__ import annotations

import click

from controller.demo.scenario import STRATEGIES


@click.command("demo")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="canary",
    show_default=True,
    help="canary (weights), ab (header match), bluegreen (mirrored, then switch), "
    "mirror (canary with a mirror pre-stage).",
)
@click.option(
    "--keep-state", is_flag=True, help="Keep the temporary state folder (logs, SQLite) for a look afterwards."
)
def demo(strategy: str, keep_state: bool) -> None:
    """Run a real local rollout: v2 is promoted, v3 (25% errors) is rolled back. Exit 0 when both happen."""
    from rich.console import Console

    from controller.demo.run import Demo

    raise SystemExit(Demo(strategy, Console(), keep_state=keep_state).run())  # type: ignore[arg-type]
