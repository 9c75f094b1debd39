"""The proxy's configuration: frozen models (mesh/proxy/schema.py), loading from YAML/JSON, one clear
error per mistake.

The admin API and the command line both go through `parse_config`, so a config that reaches the data
plane has been checked once, in one place: field shapes by the models, cross-references (a split naming
a backend that does not exist, two services on one port with the same Host) by `_check_references`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from controller.api.duration_text import parse_duration
from mesh import spiffe
from mesh.proxy.schema import After, Check, Model, ValidationError


class ConfigError(ValueError):
    """A config the proxy refuses; the message names the field and what is wrong with it."""


def _duration_seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a duration is a string like 500ms or 2s, or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_duration(value)
    else:
        raise ValueError("a duration is a string like 500ms or 2s, or a number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Seconds = Annotated[float | str, After(_duration_seconds)]
Percent = Annotated[float, Check(ge=0, le=100)]

_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


def _endpoint(value: str) -> str:
    found = _ENDPOINT.match(value)
    if not found or not 0 < int(found.group("port")) < 65536:
        raise ValueError(f"endpoint {value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return value


def split_endpoint(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


SpiffeId = Annotated[str, After(spiffe.check_uri)]


class Backend(Model):
    endpoints: list[Annotated[str, After(_endpoint)]]
    balancing: Literal["least-request", "round-robin"] = "least-request"
    # Mesh endpoints: connect over mTLS and require the peer to present this identity (docs/mesh-security.md).
    identity: SpiffeId | None = None


class StringMatch(Model):
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None

    def model_check(self) -> None:
        given = [kind for kind in ("exact", "prefix", "regex") if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of exact, prefix, regex")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from exc


class Match(Model):
    """All conditions of one Match must hold; a route matches when any of its Matches does."""

    headers: dict[str, StringMatch] = {}
    cookies: dict[str, StringMatch] = {}
    path: StringMatch | None = None
    method: list[str] = []


class Retries(Model):
    attempts: Annotated[int, Check(ge=0, le=10)] = 0
    per_try_timeout: Seconds | None = None
    retry_on: list[Literal["connect-failure", "reset", "5xx", "gateway-error"]] = [
        "connect-failure",
        "reset",
        "5xx",
    ]
    non_idempotent: bool = False


class CircuitBreaker(Model):
    max_connections: Annotated[int, Check(ge=1)] = 1024
    max_pending: Annotated[int, Check(ge=0)] = 1024


class Outlier(Model):
    consecutive_5xx: Annotated[int, Check(ge=0)] = 5
    base_ejection: Seconds = 30.0
    max_ejection: Seconds = 300.0


class Abort(Model):
    percent: Percent
    status: Annotated[int, Check(ge=200, le=599)] = 503


class Delay(Model):
    percent: Percent
    duration: Seconds


class Fault(Model):
    abort: Abort | None = None
    delay: Delay | None = None


class RouteResilience(Model):
    timeout: Seconds = 15.0
    retries: Retries = Retries()
    fault: Fault | None = None


class Resilience(RouteResilience):
    """Service-wide: route defaults plus what acts on the shared endpoints (circuit breaking, ejection)."""

    circuit_breaker: CircuitBreaker = CircuitBreaker()
    outlier: Outlier = Outlier()


Split = dict[str, Annotated[int, Check(ge=0)]]


class Route(Model):
    name: Annotated[str, Check(min_length=1)]
    match: Annotated[list[Match], Check(min_length=1)]
    split: Split
    resilience: RouteResilience | None = None


class Mirror(Model):
    backend: str
    percent: Percent = 100.0


class Sticky(Model):
    cookie: Annotated[str, Check(pattern=r"^[A-Za-z0-9_\-.]+$")]
    max_age: Seconds = 3600.0


class Service(Model):
    name: Annotated[str, Check(min_length=1)]
    namespace: str = "default"
    address: str = "127.0.0.1"
    port: Annotated[int, Check(ge=1, le=65535)]
    hosts: list[str] = []
    backends: Annotated[dict[str, Backend], Check(min_length=1)]
    split: Split
    routes: list[Route] = []
    mirror: Mirror | None = None
    sticky: Sticky | None = None
    resilience: Resilience = Resilience()
    # Inbound mesh listener: mTLS only, client certificates from the mesh CA, TrafficTargets enforced.
    tls: bool = False


class AccessLog(Model):
    enabled: bool = False
    path: str = "-"


class Tracing(Model):
    """Spans of sampled requests, POSTed as OTLP/HTTP JSON (mesh/proxy/otlp.py, docs/mesh.md)."""

    collector: Annotated[str, Check(pattern=r"^(http://|unix:///)")]  # e.g. http://otel:4318/v1/traces
    sampling: Annotated[float, Check(ge=0, le=1)] = 0.01  # share of requests that get a span
    service_name: str = "sluice-proxy"
    flush_interval: Seconds = 1.0


class TlsIssuer(Model):
    url: str  # the control plane's issuing endpoint, e.g. http://sluice-mesh:8443/v1/certificates
    token_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ca_file: str | None = None  # verifies an https:// issuer


class TlsFiles(Model):
    cert: str  # leaf first, then intermediates
    key: str
    ca: str  # the mesh trust anchor(s)


class Tls(Model):
    """Where the proxy's certificate comes from: the mesh CA (renewed at 2/3 of its life), or files."""

    trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN
    issuer: TlsIssuer | None = None
    files: TlsFiles | None = None

    def model_check(self) -> None:
        if (self.issuer is None) == (self.files is None):
            raise ValueError("give exactly one of issuer, files")


class IdentityRef(Model):
    kind: Literal["ServiceAccount"] = "ServiceAccount"
    name: Annotated[str, Check(min_length=1)]
    namespace: str = "default"


class TargetRule(Model):
    """An HTTPRouteGroup (resolved to matches); no matches: every request."""

    name: str = ""
    matches: list[Match] = []


class TrafficTarget(Model):
    """SMI access.smi-spec.io/v1alpha3 TrafficTarget; no rules: every request of the listed sources."""

    name: Annotated[str, Check(min_length=1)]
    namespace: str = "default"
    destination: IdentityRef
    sources: Annotated[list[IdentityRef], Check(min_length=1)]
    rules: list[TargetRule] = []


class ProxyConfig(Model):
    services: list[Service] = []
    access_log: AccessLog = AccessLog()
    # How long an idle pooled upstream connection is kept (shorter than the upstreams' keep-alive timeout).
    upstream_idle_timeout: Seconds = 30.0
    connect_timeout: Seconds = 2.0
    tracing: Tracing | None = None
    tls: Tls | None = None
    traffic_targets: list[TrafficTarget] = []


def _check_split(where: str, split: dict[str, int], backends: dict[str, Backend]) -> None:
    for name in split:
        if name not in backends:
            raise ConfigError(f"{where}: backend {name!r} is not one of {sorted(backends)}")
    if sum(split.values()) <= 0:
        raise ConfigError(f"{where}: weights must add up to more than 0 (got {split})")


def _check_references(config: ProxyConfig) -> None:
    names: set[tuple[str, str]] = set()
    hosts_on: dict[tuple[str, int], dict[str, str]] = {}
    for i, service in enumerate(config.services):
        where = f"services[{i}]"
        key = (service.namespace, service.name)
        if key in names:
            raise ConfigError(
                f"{where}.name: service {service.name!r} appears twice in {service.namespace!r}"
            )
        names.add(key)
        _check_split(f"{where}.split", service.split, service.backends)
        route_names: set[str] = set()
        for j, route in enumerate(service.routes):
            if route.name in route_names or route.name == "default":
                raise ConfigError(f"{where}.routes[{j}].name: {route.name!r} is taken (or reserved)")
            route_names.add(route.name)
            _check_split(f"{where}.routes[{j}].split", route.split, service.backends)
        if service.mirror and service.mirror.backend not in service.backends:
            raise ConfigError(
                f"{where}.mirror.backend: {service.mirror.backend!r} is not one of {sorted(service.backends)}"
            )
        taken = hosts_on.setdefault((service.address, service.port), {})
        for host in service.hosts or ["*"]:
            host = host.lower()
            if host in taken:
                raise ConfigError(
                    f"{where}.hosts: {service.address}:{service.port} host {host!r} "
                    f"is already served by {taken[host]!r}"
                )
            taken[host] = service.name
    _check_tls(config)


def _check_tls(config: ProxyConfig) -> None:
    listener_tls: dict[tuple[str, int], bool] = {}
    for i, service in enumerate(config.services):
        if service.tls and config.tls is None:
            raise ConfigError(f"services[{i}].tls: an mTLS listener needs the top-level tls section")
        for name, backend in service.backends.items():
            if backend.identity is not None and config.tls is None:
                raise ConfigError(
                    f"services[{i}].backends.{name}.identity: mTLS to a peer needs the top-level tls section"
                )
        if listener_tls.setdefault((service.address, service.port), service.tls) != service.tls:
            raise ConfigError(
                f"services[{i}].tls: {service.address}:{service.port} is shared with a service "
                f"that has tls {not service.tls}; one listener is either mTLS or plain"
            )


def parse_config(data: Any) -> ProxyConfig:
    """Validate a mapping (from YAML, JSON or the admin API); raise ConfigError naming the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping at the top, got {type(data).__name__}")
    try:
        config = ProxyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(exc.describe("config")) from None
    _check_references(config)
    return config


def load_config(path: str | Path) -> ProxyConfig:
    text = Path(path).read_text()
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON: {exc}") from None
    return parse_config(data or {})


def dump_config(config: ProxyConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude_none=True)
