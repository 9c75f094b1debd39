"""`sluice run`: the local controller, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from controller.cli.resources import state_option
from controller.platforms.local.database import resolve_state_dir


@click.command("run")
@state_option
@click.option(
    "--metrics-server",
    envvar="SLUICE_METRICS_SERVER",
    default=None,
    help="Prometheus URL for builtin metrics (default: the bundled proxy's own windows).",
)
@click.option(
    "--port",
    "http_port",
    type=int,
    default=0,
    show_default=True,
    help="Port of /healthz, /readyz and /metrics on 127.0.0.1 (0: a free one).",
)
@click.option("--proxy-admin-port", type=int, default=None, help="Admin port for a newly started proxy.")
@click.option("-v", "--verbose", is_flag=True, help="Log every tick's decision.")
def run(
    state_dir: Path | None,
    metrics_server: str | None,
    http_port: int,
    proxy_admin_port: int | None,
    verbose: bool,
) -> None:
    """Run the local controller: ticks every canary in the state folder at its analysis interval."""
    from controller.runtime.local import LocalController
    from controller.server import ControllerServer

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    folder = resolve_state_dir(state_dir)
    controller = LocalController(folder, metrics_server=metrics_server, proxy_admin_port=proxy_admin_port)
    server = ControllerServer(controller.metrics.registry, port=http_port)
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    click.echo(
        f"sluice controller running: state {folder}/, proxy admin {controller.admin.base_url}, "
        f"metrics http://127.0.0.1:{server.port}/metrics"
    )
    stop.wait()
    controller.stop()
    server.stop()
