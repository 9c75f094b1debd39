"""`sluice loadtester`: serve the Flagger-compatible load tester and gates until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading

import click

from controller.api.durations import parse_duration


@click.command("loadtester")
@click.option("--port", default=9090, show_default=True, help="Port to listen on.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a pod)."
)
@click.option("--timeout", default="1h", show_default=True, help="Longest a command or a load may run.")
@click.option("--namespace-regexp", default="", help="Refuse (403) payloads whose namespace does not match.")
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning"])
)
def loadtester(port: int, host: str, timeout: str, namespace_regexp: str, log_level: str) -> None:
    """Gates (/gate/*, /rollback/*), commands and a built-in load generator for canary webhooks."""
    from controller.loadtester.server import Loadtester, LoadtesterServer, Settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        seconds = parse_duration(timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from exc
    server = LoadtesterServer(Loadtester(Settings(host, port, seconds, namespace_regexp)))
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    click.echo(f"sluice loadtester listening on {host}:{server.server_address[1]}")
    stopping.wait()
    server.stop()
    click.echo("sluice loadtester stopped")


if __name__ == "__main__":
    loadtester()
