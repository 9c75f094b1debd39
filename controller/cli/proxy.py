"""`sluice proxy`: run the bundled data-plane proxy from a config file, with its admin API."""

from __future__ import annotations

import click


@click.command("proxy")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Proxy config, YAML or JSON (see docs/proxy.md).",
)
@click.option(
    "--admin-port",
    type=int,
    default=9901,
    show_default=True,
    help="Port of the admin API (config, weights, /stats/window, /metrics); 0 picks a free one.",
)
@click.option("--admin-address", default="127.0.0.1", show_default=True)
def proxy(config_path: str, admin_port: int, admin_address: str) -> None:
    """Run the bundled HTTP/1.1 proxy: weighted, matched and mirrored routing with resilience and metrics."""
    from mesh.proxy.app import run
    from mesh.proxy.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    run(config, admin_port, admin_address)


if __name__ == "__main__":
    proxy(prog_name="sluice proxy")
