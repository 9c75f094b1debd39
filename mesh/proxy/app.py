"""The proxy process: owns listeners, endpoint pools, stats and the admin API, and applies configs.

`apply` is the one way a config takes effect, at start-up and from the admin API: new listeners are
opened first (a port that cannot be bound refuses the whole config), then every listener's services
are swapped with plain assignments (no await in between, so no request sees half a config), then
listeners and endpoints that left the config are drained. In-flight requests keep the objects they
started with; keep-alive connections on a closed listener finish their request and close.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import signal
import ssl
import sys
import time
from dataclasses import dataclass

import uvloop

from mesh.proxy.access_log import AccessLog
from mesh.proxy.admin import AdminServer
from mesh.proxy.authz import Authorizer, compile_authorizer
from mesh.proxy.build import describe as data_plane_build
from mesh.proxy.certs import CertificateError, Renewer, source_for
from mesh.proxy.config import ConfigError, ProxyConfig, Service, Tls, split_endpoint
from mesh.proxy.config_watch import ConfigWatch
from mesh.proxy.deadlines import Deadlines
from mesh.proxy.metrics import Metrics
from mesh.proxy.mirror import Mirror
from mesh.proxy.otlp import SpanExporter
from mesh.proxy.server import ClientConnection
from mesh.proxy.services import Listener, compile_listeners
from mesh.proxy.tls import Bundle, MeshClientConnection, MeshTls
from mesh.proxy.upstream_pool import EndpointPool
from mesh.proxy.windows import Windows

HOUSEKEEPING_SECONDS = 1.0
DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class ControlPlaneSettings:
    url: str  # http://HOST:PORT or unix:///PATH of `sluice mesh control-plane`
    node: str  # NAMESPACE/POD: the namespace whose gateway this proxy is
    address: str = "0.0.0.0"  # where the proxy listens (its pod IP, or every address)
    token_file: str | None = None  # ServiceAccount token shown to the control plane (config_watch.py)


class Proxy:
    def __init__(
        self, config: ProxyConfig, admin_port: int | None = 0, admin_address: str = "127.0.0.1"
    ) -> None:
        self.config = ProxyConfig()
        self.initial_config = config
        self.config_in_progress = config
        self.admin_address = admin_address
        self.admin_port = admin_port
        self.metrics = Metrics()
        self.windows = Windows()
        self.pools: dict[str, EndpointPool] = {}
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.servers: dict[tuple[str, int], asyncio.Server] = {}
        self.connections: set[ClientConnection] = set()
        self.access_log: AccessLog | None = None
        self.admin = AdminServer(self)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.mirror: Mirror = None  # type: ignore[assignment]
        self.deadlines: Deadlines = None  # type: ignore[assignment]
        self._lock: asyncio.Lock | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self.stopped: asyncio.Event | None = None
        self.tracer: SpanExporter | None = None  # OTLP spans of sampled requests (config.tracing)
        self.config_watch: ConfigWatch | None = None  # set when configs come from a control plane
        # mTLS (docs/mesh-security.md): contexts, the settings they came from, renewal, access control.
        self.tls: MeshTls | None = None
        self.tls_settings: Tls | None = None
        self.secure_listeners: set[tuple[str, int]] = set()
        self.authorizer: Authorizer | None = None
        self._renewal: asyncio.Task[None] | None = None

    # --- life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.mirror = Mirror(self.loop)
        self.deadlines = Deadlines(self.loop)
        self._lock = asyncio.Lock()
        self.stopped = asyncio.Event()
        await self.apply(self.initial_config)
        if self.admin_port is not None:
            self.admin_port = await self.admin.start(self.admin_address, self.admin_port)
        self._housekeeping = self.loop.create_task(self._tick())

    async def stop(self) -> None:
        if self.config_watch is not None:
            await self.config_watch.stop()
        await self.admin.close()
        for server in self.servers.values():
            server.close()
        deadline = time.monotonic() + DRAIN_SECONDS
        for connection in list(self.connections):
            if not connection.running:
                connection.transport.close()
        while any(c.running for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # drain: let in-flight requests finish
        for connection in list(self.connections):
            connection.transport.abort()
        for pool in self.pools.values():
            pool.retire()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        if self._renewal is not None:
            self._renewal.cancel()
        self.deadlines.close()
        if self.access_log is not None:
            self.access_log.close()
        if self.tracer is not None:
            await self.tracer.stop()
        self.stopped.set()  # type: ignore[union-attr]

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            now = time.monotonic()
            for pool in self.pools.values():
                pool.sweep(now)
            if self.access_log is not None:
                self.access_log.flush()

    def log_error(self, message: str) -> None:
        print(f"sluice-proxy: {message}", file=sys.stderr, flush=True)

    # --- config ------------------------------------------------------------------------------------

    def _pool_for(self, endpoint: str, service: Service) -> EndpointPool:
        pool = self.pools.get(endpoint)
        if pool is None or pool.retired:
            host, port = split_endpoint(endpoint)
            pool = self.pools[endpoint] = EndpointPool(
                endpoint,
                host,
                port,
                float(self.config_in_progress.connect_timeout),
                float(self.config_in_progress.upstream_idle_timeout),
            )
        breaker = service.resilience.circuit_breaker
        pool.max_connections, pool.max_pending = breaker.max_connections, breaker.max_pending
        identity = next((b.identity for b in service.backends.values() if endpoint in b.endpoints), None)
        if pool.identity != identity:  # connections made for another peer identity are not reused
            pool.identity = identity
            pool.tls_context = self.tls.client if identity is not None and self.tls is not None else None
            while pool.idle:
                pool.idle.pop().close()
        return pool

    async def _prepare_tls(self, config: ProxyConfig) -> None:
        """Have a certificate for `config.tls` before any listener or pool needs it, and keep it renewed."""
        wanted = config.tls
        if wanted == self.tls_settings:
            return
        if wanted is None:
            if self._renewal is not None:
                self._renewal.cancel()
            self.tls = self.tls_settings = self._renewal = None
            self.metrics.certificate_expiry = None
            return
        renewer = Renewer(source_for(wanted), self._install_certificate, self.log_error)
        try:
            bundle = await renewer.fetch()
            if self.tls is None:
                self.tls = MeshTls(bundle)
            else:
                self.tls.load(bundle)
            self.metrics.certificate_expiry = bundle.not_after
        except (CertificateError, ssl.SSLError) as exc:
            raise ConfigError(f"tls: no certificate: {exc}") from None
        if self._renewal is not None:
            self._renewal.cancel()
        self._renewal = self.loop.create_task(renewer.run(bundle))
        self.tls_settings = wanted

    def _install_certificate(self, bundle: Bundle) -> None:
        self.tls.load(bundle)  # type: ignore[union-attr]
        self.metrics.certificate_expiry = bundle.not_after
        self.metrics.certificate_renewals += 1

    async def apply(self, config: ProxyConfig) -> None:
        """Make `config` the live one, or raise ConfigError and leave the old one serving."""
        assert self._lock is not None, "start() the proxy first"
        async with self._lock:
            self.config_in_progress = config
            await self._prepare_tls(config)
            secure = {(s.address, s.port) for s in config.services if s.tls}
            for key in secure.symmetric_difference(self.secure_listeners) & self.servers.keys():
                kind = "an mTLS" if key in self.secure_listeners else "a plain"
                raise ConfigError(
                    f"{key[0]}:{key[1]} is open as {kind} listener; it stays so while open (use another port)"
                )
            compiled = compile_listeners(config, self._pool_for, self.metrics, self.windows)
            opened: list[tuple[str, int]] = []
            try:
                for key in compiled:
                    if key in self.servers:
                        continue
                    listener = self.listeners[key] = Listener(*key)
                    protocol = MeshClientConnection if key in secure else ClientConnection
                    self.servers[key] = await self.loop.create_server(
                        lambda listener=listener, protocol=protocol: protocol(self, listener),
                        key[0],
                        key[1],
                        reuse_address=True,
                        backlog=2048,
                        ssl=self.tls.server if key in secure else None,  # type: ignore[union-attr]
                    )
                    opened.append(key)
            except OSError as exc:
                for key in opened:
                    self.servers.pop(key).close()
                    self.listeners.pop(key)
                index = next(i for i, s in enumerate(config.services) if (s.address, s.port) == key)
                raise ConfigError(
                    f"services[{index}].port: cannot listen on {key[0]}:{key[1]}: {exc}"
                ) from None
            for key, (by_host, fallback) in compiled.items():
                listener = self.listeners[key]
                listener.by_host, listener.fallback, listener.draining = by_host, fallback, False
            for key in [key for key in self.servers if key not in compiled]:
                self.servers.pop(key).close()
                self.listeners.pop(key).draining = True
                for connection in list(self.connections):
                    if connection.listener.draining and not connection.running:
                        connection.transport.close()
            used = {
                endpoint for s in config.services for b in s.backends.values() for endpoint in b.endpoints
            }
            for name in [name for name in self.pools if name not in used]:
                self.pools.pop(name).retire()
            self._set_access_log(config)
            self._set_tracing(config)
            self.secure_listeners = secure & self.servers.keys()
            tls = self.tls
            self.authorizer = compile_authorizer(config.traffic_targets, tls.identity) if tls else None
            self.config = config

    def _set_tracing(self, config: ProxyConfig) -> None:
        current = self.tracer
        if current is not None and current.tracing == config.tracing:
            return
        self.tracer = None
        if current is not None:
            self.loop.create_task(current.stop())  # sends what it holds, off the config path
        if config.tracing is not None:
            self.tracer = SpanExporter(config.tracing, self.log_error)
            self.tracer.start()

    def _set_access_log(self, config: ProxyConfig) -> None:
        wanted = config.access_log
        current = self.access_log
        if current is not None and (not wanted.enabled or current.path != wanted.path):
            current.close()
            self.access_log = current = None
        if wanted.enabled and current is None:
            self.access_log = AccessLog(wanted.path)


def tune_gc() -> None:
    """Objects made at start-up live forever; keep the collector off them and make pauses rarer.

    Start-up garbage (imports, config parsing) is handed back to the OS: ~1 MB of the RSS budget.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)  # glibc; elsewhere the symbol is missing and this is skipped
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def serve(
    config: ProxyConfig,
    admin_port: int | None,
    admin_address: str = "127.0.0.1",
    control_plane: ControlPlaneSettings | None = None,
) -> None:
    """Run a proxy until SIGTERM or SIGINT; with `control_plane`, its services come from there."""
    proxy = Proxy(config, admin_port, admin_address)
    try:
        await proxy.start()
    except ConfigError as exc:  # e.g. no mesh certificate yet: one line, and a restart will retry
        raise SystemExit(f"sluice proxy: {exc}") from None
    if control_plane is not None:
        proxy.config_watch = ConfigWatch(
            proxy,
            control_plane.url,
            control_plane.node,
            control_plane.address,
            token_file=control_plane.token_file,
        )
        proxy.config_watch.start()
    tune_gc()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    ports = ", ".join(f"{address}:{port}" for address, port in proxy.servers)
    build, stale = data_plane_build()
    print(
        f"sluice proxy listening on {ports or 'no ports'}; admin on {admin_address}:{proxy.admin_port};"
        f" data plane: {build}",
        flush=True,
    )
    if stale:
        proxy.log_error(f"compiled modules older than their source ({', '.join(stale)}): run `make setup`")
    await stopping.wait()
    await proxy.stop()


def run(
    config: ProxyConfig,
    admin_port: int | None,
    admin_address: str = "127.0.0.1",
    control_plane: ControlPlaneSettings | None = None,
) -> None:
    uvloop.run(serve(config, admin_port, admin_address, control_plane))
