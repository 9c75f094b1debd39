"""The control-plane process: watches into a store, the config server over TCP and/or a Unix socket.

A Unix socket is offered besides TCP because a proxy may live in another network namespace than the
control plane (the acceptance tests run proxies and apps in a namespace of their own with no route out,
and the apiserver stays on the host's loopback): a socket path crosses network namespaces, nothing else
has to.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from kubernetes.client import ApiClient

from mesh import spiffe
from mesh.control.server import ConfigServer
from mesh.control.translate import Snapshot
from mesh.control.watch import Api, Store, start_watchers, wait_synced

if TYPE_CHECKING:
    from mesh.control.auth import CachedReviews
    from mesh.identity import Issuer

SYNC_TIMEOUT = 3600.0


async def serve(
    client: ApiClient,
    namespace: str | None = None,
    host: str | None = "127.0.0.1",
    port: int = 15010,
    unix_path: str | None = None,
    cluster_domain: str = "cluster.local",
    stop: asyncio.Event | None = None,
    tracing: dict[str, Any] | None = None,
    issuer: Issuer | None = None,
    trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
    reviews: CachedReviews | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set)."""
    loop = asyncio.get_running_loop()
    holder: dict[str, ConfigServer] = {}
    store = Store(lambda: holder["server"].changed_threadsafe() if "server" in holder else None)
    watchers = start_watchers(Api(client), store, namespace)
    server = holder["server"] = ConfigServer(
        lambda: Snapshot(**store.copy()),
        cluster_domain,
        lambda: [w.status() for w in watchers],
        tracing,
        issuer,
        trust_domain,
        reviews,
    )

    async def sync() -> None:
        await asyncio.to_thread(wait_synced, watchers, SYNC_TIMEOUT)
        server.mark_ready()

    syncing = loop.create_task(sync())
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    where = []
    if host is not None:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[union-attr]
        where.append(f"http://{host}:{bound}")
    if unix_path is not None:
        with contextlib.suppress(FileNotFoundError):
            Path(unix_path).unlink()
        await web.UnixSite(runner, unix_path).start()
        where.append(f"unix://{unix_path}")
    print(f"sluice mesh control plane serving on {', '.join(where)}", flush=True)
    stopping = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        syncing.cancel()
        for watcher in watchers:
            watcher.stop()
        await runner.cleanup()
