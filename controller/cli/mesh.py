"""`sluice mesh control-plane`: the bundled mesh's control plane (docs/mesh.md).

It watches TrafficSplits, HTTPRouteGroups, TrafficTargets, mesh HTTPRoutes, Services, EndpointSlices and Pods
and serves every gateway proxy (`sluice proxy --control-plane URL`) its config as a long-poll watch. A
group of its own, so later mesh commands (identity, traffic top) sit beside it.
"""

from __future__ import annotations

import logging

import click

from controller.cli.options import cluster_options


@click.group("mesh")
def mesh() -> None:
    """The bundled service mesh: control plane for the sluice gateway proxies."""


@mesh.command("control-plane")
@cluster_options
@click.option(
    "--listen",
    envvar="SLUICE_MESH_LISTEN",
    default="0.0.0.0:15010",
    show_default=True,
    help="HOST:PORT of the config API; 'none' for the Unix socket only.",
)
@click.option(
    "--unix-socket", envvar="SLUICE_MESH_UNIX_SOCKET", default=None, help="Also serve on this socket."
)
@click.option("--cluster-domain", envvar="SLUICE_CLUSTER_DOMAIN", default="cluster.local", show_default=True)
@click.option(
    "--otlp-collector",
    envvar="SLUICE_OTLP_COLLECTOR",
    default=None,
    help="OTLP/HTTP traces URL the proxies export to, e.g. http://otel-collector:4318/v1/traces.",
)
@click.option(
    "--trace-sampling",
    envvar="SLUICE_TRACE_SAMPLING",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of requests the proxies record a span for (with --otlp-collector).",
)
@click.option(
    "--ca-secret",
    envvar="SLUICE_MESH_CA_SECRET",
    default=None,
    help="Run the mesh CA from this Secret (created if missing) and issue proxy certificates at "
    "POST /v1/certificates (docs/mesh-security.md).",
)
@click.option(
    "--ca-namespace",
    envvar="POD_NAMESPACE",
    default="sluice-system",
    show_default=True,
    help="Namespace of the CA Secret.",
)
@click.option("--ca-external", is_flag=True, help="The Secret holds an external CA (e.g. cert-manager's).")
@click.option(
    "--audience",
    "audiences",
    envvar="SLUICE_MESH_AUDIENCE",
    multiple=True,
    help="Accept only proxy tokens bound to this audience (certificates and, with --require-proxy-token, "
    "the config API).",
)
@click.option(
    "--require-proxy-token/--no-require-proxy-token",
    envvar="SLUICE_MESH_REQUIRE_PROXY_TOKEN",
    default=False,
    show_default=True,
    help="Serve a gateway's config only to a ServiceAccount token of its namespace (TokenReview, with "
    "--audience); the chart turns this on.",
)
@click.option(
    "--trust-domain",
    envvar="SLUICE_TRUST_DOMAIN",
    default="cluster.local",
    show_default=True,
    help="Of the identities the CA signs and that mTLS backends must present (spiffe://DOMAIN/ns/NS/sa/SA).",
)
def control_plane(
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    listen: str,
    unix_socket: str | None,
    cluster_domain: str,
    otlp_collector: str | None,
    trace_sampling: float,
    ca_secret: str | None,
    ca_namespace: str,
    ca_external: bool,
    audiences: tuple[str, ...],
    require_proxy_token: bool,
    trust_domain: str,
) -> None:
    """Serve gateway proxies their config from SMI and Gateway API objects."""
    import asyncio

    from controller.cli.kubeconfig import api_client
    from mesh.control.app import serve

    host: str | None = None
    port = 0
    if listen.lower() != "none":
        host, _, port_text = listen.rpartition(":")
        if not host or not port_text.isdigit():
            raise click.BadParameter("expected HOST:PORT or none", param_hint="--listen")
        port = int(port_text)
    elif unix_socket is None:
        raise click.BadParameter("--listen none needs --unix-socket", param_hint="--listen")
    tracing = {"collector": otlp_collector, "sampling": trace_sampling} if otlp_collector else None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = api_client(kubeconfig, context)
    try:
        issuer = None
        if ca_secret:
            from mesh.identity import cluster_issuer

            issuer = cluster_issuer(
                client,
                ca_namespace,
                ca_secret,
                ca_external,
                trust_domain=trust_domain,
                audiences=list(audiences) or None,
            )
        reviews = None
        if require_proxy_token:
            from mesh.control.auth import CachedReviews
            from mesh.identity import KubernetesTokenReviewer

            reviews = CachedReviews(KubernetesTokenReviewer(client, list(audiences) or None))
        asyncio.run(
            serve(
                client,
                namespace,
                host,
                port,
                unix_socket,
                cluster_domain,
                tracing=tracing,
                issuer=issuer,
                trust_domain=trust_domain,
                reviews=reviews,
            )
        )
    finally:
        client.close()
