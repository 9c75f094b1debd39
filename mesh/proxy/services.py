"""A config compiled for the data plane: services with their routes, backends, policies and stat cells.

A compiled service is immutable once built; a config change builds new ones and swaps them into the
listeners in one assignment, so a request already under way finishes with the objects it started with.
Endpoint pools and stat cells are looked up by key in long-lived tables, so connections and counters
carry over from one config to the next.
"""

from __future__ import annotations

from collections.abc import Callable

from mesh.proxy.balancer import Balancer
from mesh.proxy.config import ProxyConfig, Service
from mesh.proxy.metrics import Gauge, Metrics, RouteCell
from mesh.proxy.resilience import OutlierDetector, RoutePolicy
from mesh.proxy.routing import RouteTable
from mesh.proxy.upstream_pool import EndpointPool
from mesh.proxy.windows import Window, Windows

PoolFor = Callable[[str, Service], EndpointPool]


# Plain classes rather than dataclasses: services.pxd types them for the compiled build (docs/proxy.md).


class BackendRuntime:
    def __init__(
        self, name: str, balancer: Balancer, window: Window, mirrored: Gauge, ejections: dict[str, Gauge]
    ) -> None:
        self.name = name
        self.balancer = balancer
        self.window = window
        self.mirrored = mirrored
        self.ejections = ejections  # endpoint -> counter


class ServiceRuntime:
    def __init__(
        self,
        config: Service,
        table: RouteTable,
        backends: dict[str, BackendRuntime],
        policies: dict[str, RoutePolicy],
        cells: dict[str, dict[str, RouteCell]],
        outlier: OutlierDetector,
        in_flight: Gauge,
    ) -> None:
        self.config = config
        self.name = config.name
        self.table = table
        self.backends = backends
        self.policies = policies  # route name -> policy
        self.cells = cells  # route name -> backend -> counters
        self.outlier = outlier
        self.in_flight = in_flight
        self.sticky_cookie: str | None = None
        self.sticky_header = b""  # `; Max-Age=...; Path=/` suffix of the Set-Cookie line
        self.mirror: BackendRuntime | None = None
        self.mirror_percent = 0.0


def compile_service(
    service: Service, pool_for: PoolFor, metrics: Metrics, windows: Windows
) -> ServiceRuntime:
    ns, name = service.namespace, service.name
    backends = {
        backend_name: BackendRuntime(
            name=backend_name,
            balancer=Balancer(
                [pool_for(endpoint, service) for endpoint in backend.endpoints], backend.balancing
            ),
            window=windows.window(ns, name, backend_name),
            mirrored=metrics.mirror_counter(ns, name, backend_name),
            ejections={
                endpoint: metrics.ejection_counter(ns, name, backend_name, endpoint)
                for endpoint in backend.endpoints
            },
        )
        for backend_name, backend in service.backends.items()
    }
    route_names = ["default", *(route.name for route in service.routes)]
    policies = {"default": RoutePolicy.from_config(service.resilience)}
    for route in service.routes:
        policies[route.name] = RoutePolicy.from_config(route.resilience or service.resilience)
    runtime = ServiceRuntime(
        config=service,
        table=RouteTable(service),
        backends=backends,
        policies=policies,
        cells={
            route: {backend: metrics.route(ns, name, backend, route) for backend in service.backends}
            for route in route_names
        },
        outlier=OutlierDetector(service.resilience.outlier),
        in_flight=metrics.in_flight_gauge(ns, name),
    )
    if service.sticky is not None:
        runtime.sticky_cookie = service.sticky.cookie
        runtime.sticky_header = b"; Max-Age=%d; Path=/; HttpOnly" % int(float(service.sticky.max_age))
    if service.mirror is not None:
        runtime.mirror = backends[service.mirror.backend]
        runtime.mirror_percent = service.mirror.percent
    return runtime


class Listener:
    """Services sharing one address:port, told apart by Host."""

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self.port = port
        self.by_host: dict[str, ServiceRuntime] = {}
        self.fallback: ServiceRuntime | None = None  # the service that lists no hosts
        self.draining = False

    def service_for(self, host: bytes | None) -> ServiceRuntime | None:
        if self.by_host and host is not None:
            name = host.decode("latin-1").lower()
            name = name.partition("]")[0] + "]" if name.startswith("[") else name.partition(":")[0]
            found = self.by_host.get(name)
            if found is not None:
                return found
        return self.fallback


def compile_listeners(
    config: ProxyConfig, pool_for: PoolFor, metrics: Metrics, windows: Windows
) -> dict[tuple[str, int], tuple[dict[str, ServiceRuntime], ServiceRuntime | None]]:
    """(address, port) -> (host -> service, fallback service) for every listener the config asks for."""
    listeners: dict[tuple[str, int], tuple[dict[str, ServiceRuntime], ServiceRuntime | None]] = {}
    for service in config.services:
        runtime = compile_service(service, pool_for, metrics, windows)
        by_host, fallback = listeners.get((service.address, service.port), ({}, None))
        if service.hosts:
            by_host.update({host.lower(): runtime for host in service.hosts})
        else:
            fallback = runtime
        listeners[(service.address, service.port)] = (by_host, fallback)
    return listeners
