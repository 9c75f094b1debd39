"""`sluice proxy`: run the bundled data-plane proxy from a config file, with its admin API.

With `--control-plane URL` its services (and TrafficTargets, tracing) come from `sluice mesh
control-plane` instead (docs/mesh.md); a `--config` file then only gives the local settings (tls, access
log, timeouts).
"""

from __future__ import annotations

import click


@click.command("proxy")
@click.option(
    "--config",
    "config_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Proxy config, YAML or JSON (see docs/proxy.md); required without --control-plane.",
)
@click.option(
    "--admin-port",
    type=int,
    default=9901,
    show_default=True,
    help="Port of the admin API (config, weights, /stats/window, /metrics); 0 picks a free one.",
)
@click.option("--admin-address", default="127.0.0.1", show_default=True)
@click.option(
    "--control-plane",
    envvar="SLUICE_CONTROL_PLANE",
    default=None,
    help="Take services from this mesh control plane: http://HOST:PORT or unix:///PATH.",
)
@click.option(
    "--node",
    envvar="SLUICE_NODE",
    default=None,
    help="NAMESPACE/NAME this proxy is a gateway for (default: $POD_NAMESPACE/$POD_NAME, or $HOSTNAME).",
)
@click.option(
    "--listen-address",
    envvar="POD_IP",
    default="0.0.0.0",
    show_default=True,
    help="Address the control plane's services listen on (the pod IP in Kubernetes).",
)
@click.option(
    "--token-file",
    envvar="SLUICE_CONTROL_PLANE_TOKEN_FILE",
    default=None,
    help="ServiceAccount token shown to the control plane (default: tls.issuer.token_file of --config).",
)
def proxy(
    config_path: str | None,
    admin_port: int,
    admin_address: str,
    control_plane: str | None,
    node: str | None,
    listen_address: str,
    token_file: str | None,
) -> None:
    """Run the bundled HTTP/1.1 proxy: weighted, matched and mirrored routing with resilience and metrics."""
    import os

    from mesh.proxy.app import ControlPlaneSettings, run
    from mesh.proxy.config import ConfigError, ProxyConfig, load_config

    if config_path is None and control_plane is None:
        raise click.UsageError("give --config FILE, --control-plane URL, or both")
    try:
        config = load_config(config_path) if config_path else ProxyConfig()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    settings = None
    if control_plane is not None:
        node = node or "{}/{}".format(
            os.environ.get("POD_NAMESPACE", "default"), os.environ.get("POD_NAME") or os.uname().nodename
        )
        settings = ControlPlaneSettings(control_plane, node, listen_address, token_file)
    run(config, admin_port, admin_address, settings)


if __name__ == "__main__":
    proxy(prog_name="sluice proxy")
