"""Which provider answers a query: one line per provider type, plus the choice for builtin metrics.

A MetricTemplate names its provider (`spec.provider.type`); builtins and deprecated inline queries go to
the canary's `metricsServer` (or the controller's default Prometheus), and in local mode with no
Prometheus configured, to the bundled proxy's windowed stats.
"""

from __future__ import annotations

from collections.abc import Callable

from analysis.errors import MetricConfigError
from analysis.providers.base import MetricProvider
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.proxy_window import ProxyWindowProvider
from analysis.providers.secrets import SecretLookup
from controller.api.canary import Canary
from controller.api.metric_template import MetricProvider as ProviderSpec
from controller.api.metric_template import MetricTemplate

# type -> factory(spec, namespace=..., secrets=..., default_address=...)
FACTORIES: dict[str, Callable[..., MetricProvider]] = {
    "prometheus": PrometheusProvider.from_spec,
}


def provider_for_template(
    template: MetricTemplate, *, secrets: SecretLookup | None = None, default_address: str | None = None
) -> MetricProvider:
    """The provider a MetricTemplate's `spec.provider` describes; MetricConfigError naming it otherwise."""
    spec: ProviderSpec = template.spec.provider
    where = f"MetricTemplate {template.metadata.namespace}/{template.metadata.name}"
    factory = FACTORIES.get(spec.type)
    if factory is None:
        supported = ", ".join(sorted(FACTORIES))
        raise MetricConfigError(f"{where}: provider.type {spec.type!r} is not supported (only {supported})")
    try:
        return factory(
            spec, namespace=template.metadata.namespace, secrets=secrets, default_address=default_address
        )
    except MetricConfigError as exc:
        raise MetricConfigError(f"{where}: {exc}") from None


def builtin_provider(
    canary: Canary, *, metrics_server: str | None = None, proxy_admin_url: str | None = None
) -> MetricProvider:
    """Where builtin metrics and inline queries of `canary` run.

    The canary's `spec.metricsServer` wins, then the controller's default Prometheus (`metrics_server`),
    then, in local mode, the bundled proxy's admin port.
    """
    address = canary.spec.metrics_server or metrics_server
    if address:
        return PrometheusProvider(address)
    if proxy_admin_url:
        return ProxyWindowProvider(proxy_admin_url)
    raise MetricConfigError(
        f"canary {canary.metadata.namespace}/{canary.metadata.name}: spec.metricsServer is not set and "
        "no default Prometheus or proxy admin address is configured"
    )
