"""`sluice promote|abort|pause|resume|retry NAME`: manual commands, queued for the controller.

The CLI never changes a rollout itself: the engine is the only writer of status, so a command is queued
and the engine handles it at the canary's next tick (once; one that does not apply in the current phase is
noted in the status' reason and ignored). The output says so, with the interval to expect.
"""

from __future__ import annotations

from pathlib import Path

import click

from controller.cli.backend import backend_options, open_backend
from controller.cli.status_view import status_of
from controller.ports.store import NotFound

WHAT = {
    "promote": "Skip the rest of the analysis and promote the canary.",
    "abort": "Roll the canary back now.",
    "pause": "Hold the rollout at its current weight (no checks, no deadlines) until resume.",
    "resume": "Go on with a paused rollout.",
    "retry": "Start a Failed rollout again for the same revision.",
}


def _command(verb: str) -> click.Command:
    @backend_options
    @click.argument("name")
    def run(name: str, namespace: str, state_dir: Path | None) -> None:
        backend = open_backend(state_dir)
        try:
            canary = backend.get_canary(namespace, name)
            backend.enqueue(namespace, name, verb)
        except NotFound:
            raise click.ClickException(f"canary {namespace}/{name} not found") from None
        phase = status_of(canary).phase or "New"
        interval = canary.spec.get_analysis().interval
        click.echo(f"{verb} queued for canary {namespace}/{name} (now {phase}); the controller acts on it "
                   f"at its next tick (every {interval}). Follow it with: sluice status {name} --watch")

    run.__doc__ = WHAT[verb]
    return click.command(name=verb, help=WHAT[verb])(run)


promote = _command("promote")
abort = _command("abort")
pause = _command("pause")
resume = _command("resume")
retry = _command("retry")
