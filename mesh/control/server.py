"""The control plane's HTTP API: each gateway proxy long-polls for its config, and gets only changes.

    GET /v1/config?node=NAMESPACE/POD&address=IP&version=N&wait=30[&mtls=1]

answers at once with the node's config when its version is past N, otherwise holds the request until it
moves or `wait` seconds pass (then 304, and the proxy asks again). Versions are per node and only move
when that node's config really changed, so an unrelated Service edit wakes nobody. Versions start at the
wall clock in milliseconds, so a restarted control plane still counts past what its proxies hold; and a
node is always sent its config once per control-plane process, whatever version it reports. `mtls=1`
says the proxy has a certificate of its own, so it can be sent backends that require a peer identity.

With an Issuer (mesh/identity.py, `--ca-secret`), the same server also issues the proxies' certificates
at `POST /v1/certificates` (docs/mesh-security.md). With `reviews` (`--require-proxy-token`) a config is
served only to a ServiceAccount token of the node's namespace (mesh/control/auth.py): 401 without a valid
one, 403 for another namespace's.

Nothing is served before every watch has listed once: a control plane that has just started knows of no
objects, and an empty config would wipe the proxies' last good one. aiohttp is fine here: this is a
control path (mesh.md §4.1), a few requests per proxy per change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mesh import spiffe
from mesh.control.translate import NodeConfig, Snapshot, node_config

if TYPE_CHECKING:
    from mesh.control.auth import CachedReviews
    from mesh.identity import Issuer

log = logging.getLogger("sluice.mesh.control")

MAX_WAIT = 300.0
FORGET_AFTER = 600.0  # a node that has not polled for this long is dropped
DEBOUNCE = 0.05


@dataclass
class Node:
    namespace: str
    address: str
    mtls: bool = False
    names: set[str] = field(default_factory=set)
    version: int = 0
    computed: NodeConfig | None = None
    body: dict[str, Any] | None = None
    last_seen: float = field(default_factory=time.monotonic)
    served: bool = False
    moved: asyncio.Event = field(default_factory=asyncio.Event)


class ConfigServer:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        cluster_domain: str = "cluster.local",
        status: Callable[[], list[dict[str, Any]]] = list,
        tracing: dict[str, Any] | None = None,
        issuer: Issuer | None = None,
        trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
        reviews: CachedReviews | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.reviews = reviews  # set: only a ServiceAccount token of the node's namespace gets its config
        self.trust_domain = trust_domain
        self.tracing = tracing
        self.issuer = issuer  # the mesh CA's issuing endpoint, when this control plane runs it
        self.cluster_domain = cluster_domain
        self.watch_status = status
        self.nodes: dict[tuple[str, str, bool], Node] = {}
        self.ready = asyncio.Event()
        self.version = int(time.time() * 1000)
        self.recomputes = 0
        self._loop = asyncio.get_running_loop()
        self._pending: asyncio.TimerHandle | None = None

    # --- changes ---------------------------------------------------------------------------------

    def changed_threadsafe(self) -> None:
        """Called by the watch threads after every change to the store."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: shutting down
            self._loop.call_soon_threadsafe(self.changed)

    def changed(self) -> None:
        if self._pending is None:
            self._pending = self._loop.call_later(DEBOUNCE, self.recompute)

    def mark_ready(self) -> None:
        self.ready.set()
        self.recompute()

    def recompute(self) -> None:
        self._pending = None
        if not self.ready.is_set():
            return
        self.recomputes += 1
        snapshot = self.snapshot()
        now = time.monotonic()
        for key, node in list(self.nodes.items()):
            if now - node.last_seen > FORGET_AFTER:
                del self.nodes[key]
                continue
            self._refresh(node, snapshot)

    def _refresh(self, node: Node, snapshot: Snapshot) -> None:
        computed = node_config(
            snapshot,
            node.namespace,
            node.address,
            self.cluster_domain,
            self.tracing,
            self.trust_domain,
            node.mtls,
        )
        document = computed.document()
        if node.body is not None and {k: node.body[k] for k in document} == document:
            return
        known = set(node.computed.problems) if node.computed else set()
        for problem in computed.problems:
            if problem not in known:  # once per node while it lasts, not at every recomputation
                log.warning("%s (gateway %s %s)", problem, node.namespace, node.address)
        self.version = max(self.version + 1, int(time.time() * 1000))
        node.version, node.computed = self.version, computed
        node.body = {
            "version": node.version,
            "namespace": node.namespace,
            "address": node.address,
            **document,
        }
        moved, node.moved = node.moved, asyncio.Event()
        moved.set()

    def node(self, namespace: str, address: str, mtls: bool = False) -> Node:
        key = (namespace, address, mtls)
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(namespace, address, mtls)
            self._refresh(node, self.snapshot())
        node.last_seen = time.monotonic()
        return node

    # --- HTTP ------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/config", self.get_config)
        app.router.add_get("/v1/status", self.get_status)
        app.router.add_get("/healthz", self.get_health)
        app.router.add_get("/readyz", self.get_ready)
        if self.issuer is not None:
            from mesh.identity import ISSUE_PATH, aiohttp_handler  # loads `cryptography`: only when issuing

            app.router.add_post(ISSUE_PATH, aiohttp_handler(self.issuer))
        return app

    async def get_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def get_ready(self, request: web.Request) -> web.Response:
        ready = self.ready.is_set()
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        node_name = query.get("node", "")
        namespace = node_name.split("/")[0]
        if not namespace:
            return _error(400, "node: required, NAMESPACE/NAME (the proxy serves NAMESPACE)")
        address = query.get("address") or "0.0.0.0"
        mtls = query.get("mtls", "") in ("1", "true")
        if self.reviews is not None:
            refused = await self._refusal(request.headers.get("Authorization"), namespace)
            if refused is not None:
                return refused
        try:
            have = int(query.get("version", "0"))
            wait = min(max(float(query.get("wait", "30")), 0.0), MAX_WAIT)
        except ValueError:
            return _error(400, "version and wait: expected numbers")
        deadline = self._loop.time() + wait
        if not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), wait)
            if not self.ready.is_set():
                return web.Response(status=304, headers={"x-sluice-ready": "false"})
        node = self.node(namespace, address, mtls)
        node.names.add(node_name)
        if node.version <= have and node.served:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(node.moved.wait(), max(0.0, deadline - self._loop.time()))
            node = self.node(namespace, address, mtls)
        if node.version <= have and node.served:
            return web.Response(status=304, headers={"x-sluice-version": str(node.version)})
        node.served = True
        return web.Response(body=json.dumps(node.body).encode(), content_type="application/json")

    async def _refusal(self, authorization: str | None, namespace: str) -> web.Response | None:
        from mesh.control.auth import authorize_node
        from mesh.identity import IssuanceRefused

        try:
            await asyncio.to_thread(authorize_node, self.reviews, authorization, namespace)  # type: ignore[arg-type]
        except IssuanceRefused as exc:
            return _error(exc.status, str(exc))
        except Exception as exc:  # the apiserver could not be asked: the proxy keeps its config, retries
            return _error(503, f"the token could not be reviewed: {exc}")
        return None

    async def get_status(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        nodes = [
            {
                "namespace": node.namespace,
                "address": node.address,
                "mtls": node.mtls,
                "names": sorted(node.names),
                "version": node.version,
                "seen_seconds_ago": round(now - node.last_seen, 1),
                "services": [s.name for s in node.computed.config.services] if node.computed else [],
                "problems": node.computed.problems if node.computed else [],
            }
            for node in self.nodes.values()
        ]
        return web.json_response(
            {
                "ready": self.ready.is_set(),
                "recomputes": self.recomputes,
                "watches": self.watch_status(),
                "nodes": nodes,
            }
        )


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
