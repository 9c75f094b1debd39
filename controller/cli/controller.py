"""`sluice controller`: the in-cluster controller (Kubernetes mode), until SIGTERM.

Flags follow Flagger's (reference/flagger.md §1.15) where they apply, each also read from a SLUICE_*
environment variable so a Helm chart can set them either way. Logs are one JSON object per line (what
cluster log pipelines parse); `--log-format text` is for humans. With `--leader-elect` the process campaigns
for a Lease first and starts the controller only once it leads (on another thread: starting waits for the
informers while the elector must keep renewing); it exits when it loses the Lease, to start clean.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from datetime import UTC, datetime

import click

from controller.cli.kubeconfig import api_client
from controller.cli.options import cluster_options


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@click.command("controller")
@cluster_options
@click.option(
    "--mesh-provider",
    envvar="SLUICE_MESH_PROVIDER",
    default="smi:v1alpha4",
    show_default=True,
    help="Traffic provider for canaries without spec.provider.",
)
@click.option(
    "--metrics-server",
    envvar="SLUICE_METRICS_SERVER",
    default=None,
    help="Prometheus URL for builtin metrics of canaries without spec.metricsServer.",
)
@click.option(
    "--selector-labels",
    envvar="SLUICE_SELECTOR_LABELS",
    default="app,name,app.kubernetes.io/name",
    show_default=True,
    help="Target selector labels, comma-separated, first match wins.",
)
@click.option(
    "--include-label-prefix",
    envvar="SLUICE_INCLUDE_LABEL_PREFIX",
    default="*",
    show_default=True,
    help="Label/annotation prefixes copied to the primary, comma-separated ('*' = all).",
)
@click.option(
    "--enable-config-tracking/--disable-config-tracking",
    envvar="SLUICE_ENABLE_CONFIG_TRACKING",
    default=True,
    show_default=True,
    help="Track ConfigMaps/Secrets and copy them to -primary.",
)
@click.option(
    "--control-loop-interval",
    envvar="SLUICE_CONTROL_LOOP_INTERVAL",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between syncs of the job set (changes are also watched).",
)
@click.option(
    "--threadiness",
    envvar="SLUICE_THREADINESS",
    type=int,
    default=4,
    show_default=True,
    help="Ticks run at once (one per canary at most).",
)
@click.option("--cluster-name", envvar="SLUICE_CLUSTER_NAME", default="", help="Named in notifications.")
@click.option("--slack-url", envvar="SLUICE_SLACK_URL", default=None)
@click.option("--slack-token", envvar="SLUICE_SLACK_TOKEN", default=None)
@click.option("--slack-channel", envvar="SLUICE_SLACK_CHANNEL", default=None)
@click.option("--slack-user", envvar="SLUICE_SLACK_USER", default=None)
@click.option("--slack-proxy-url", envvar="SLUICE_SLACK_PROXY", default=None)
@click.option("--msteams-url", envvar="SLUICE_MSTEAMS_URL", default=None)
@click.option(
    "--host",
    envvar="SLUICE_HTTP_HOST",
    default="0.0.0.0",
    show_default=True,
    help="Address of /healthz, /readyz and /metrics.",
)
@click.option(
    "--port",
    envvar="SLUICE_HTTP_PORT",
    type=int,
    default=8080,
    show_default=True,
    help="Port of /healthz, /readyz and /metrics (0: a free one).",
)
@click.option(
    "--leader-elect",
    envvar="SLUICE_LEADER_ELECT",
    is_flag=True,
    default=False,
    help="Campaign for a coordination.k8s.io Lease and act only while holding it (HA).",
)
@click.option(
    "--leader-elect-namespace",
    envvar="POD_NAMESPACE",
    default=None,
    help="Namespace of the Lease (default: the pod's, else --namespace, else default).",
)
@click.option(
    "--leader-elect-lease-name",
    envvar="SLUICE_LEADER_ELECT_LEASE_NAME",
    default="sluice-leader",
    show_default=True,
)
@click.option(
    "--leader-elect-lease-duration",
    envvar="SLUICE_LEADER_ELECT_LEASE_DURATION",
    type=int,
    default=15,
    show_default=True,
    help="Seconds a standby waits after the last renewal it saw.",
)
@click.option(
    "--leader-elect-renew-deadline",
    envvar="SLUICE_LEADER_ELECT_RENEW_DEADLINE",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds after which a leader that could not renew steps down.",
)
@click.option(
    "--leader-elect-retry-period",
    envvar="SLUICE_LEADER_ELECT_RETRY_PERIOD",
    type=float,
    default=2.0,
    show_default=True,
    help="Seconds between attempts (candidates) and renewals (the leader).",
)
@click.option(
    "--log-level",
    envvar="SLUICE_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format",
    envvar="SLUICE_LOG_FORMAT",
    default="json",
    show_default=True,
    type=click.Choice(["json", "text"]),
)
def controller(
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    mesh_provider: str,
    metrics_server: str | None,
    selector_labels: str,
    include_label_prefix: str,
    enable_config_tracking: bool,
    control_loop_interval: float,
    threadiness: int,
    cluster_name: str,
    slack_url: str | None,
    slack_token: str | None,
    slack_channel: str | None,
    slack_user: str | None,
    slack_proxy_url: str | None,
    msteams_url: str | None,
    host: str,
    port: int,
    leader_elect: bool,
    leader_elect_namespace: str | None,
    leader_elect_lease_name: str,
    leader_elect_lease_duration: int,
    leader_elect_renew_deadline: float,
    leader_elect_retry_period: float,
    log_level: str,
    log_format: str,
) -> None:
    """Run the Kubernetes controller: watches Canaries and rolls out their targets."""
    from controller.runtime.kubernetes import KubernetesController
    from controller.server import ControllerServer

    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler], force=True)
    settings = {
        key: value
        for key, value in {
            **os.environ,
            "SLUICE_CLUSTER_NAME": cluster_name,
            "SLUICE_SLACK_URL": slack_url,
            "SLUICE_SLACK_TOKEN": slack_token,
            "SLUICE_SLACK_CHANNEL": slack_channel,
            "SLUICE_SLACK_USER": slack_user,
            "SLUICE_SLACK_PROXY": slack_proxy_url,
            "SLUICE_MSTEAMS_URL": msteams_url,
        }.items()
        if value
    }
    api = api_client(kubeconfig, context)
    kube = KubernetesController(
        api,
        namespace=namespace,
        mesh_provider=mesh_provider,
        metrics_server=metrics_server,
        selector_labels=_csv(selector_labels),
        include_label_prefixes=_csv(include_label_prefix),
        config_tracking=enable_config_tracking,
        settings=settings,
        sync_seconds=control_loop_interval,
        workers=threadiness,
    )
    stop = threading.Event()
    elector = None
    if leader_elect:
        from controller.runtime.leader import LeaderElector, LeaseTiming

        def started_leading() -> None:
            # start() waits for the informers to sync; the elector's thread must go back to renewing.
            threading.Thread(target=kube.start, name="sluice-controller-start", daemon=True).start()

        elector = LeaderElector(
            api,
            leader_elect_namespace or namespace or "default",
            name=leader_elect_lease_name,
            timing=LeaseTiming(
                leader_elect_lease_duration, leader_elect_renew_deadline, leader_elect_retry_period
            ),
            on_started_leading=started_leading,
            on_stopped_leading=stop.set,  # a controller that lost its lease exits and is restarted fresh
        )

    def ready() -> bool:
        """/readyz: synced and started, and with leader election only while holding the Lease."""
        return kube.ready() and (elector is None or elector.is_leader())

    server = ControllerServer(kube.metrics.registry, ready=ready, host=host, port=port)
    server.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if elector is not None:
        elector.start()
    else:
        kube.start()
    logging.getLogger("sluice.controller").info(
        "sluice controller running: namespace %s, provider %s, http %s:%d%s",
        namespace or "(all)", mesh_provider, host, server.port,
        f", campaigning for Lease {leader_elect_lease_name}" if elector is not None else "",
    )  # fmt: skip
    stop.wait()
    if elector is not None:
        elector.stop()
    kube.stop()
    server.stop()
