"""The proxy's side of the control plane: long-poll for this node's config, apply each new version.

The proxy must outlive its control plane: while the control plane is away (restarting, partitioned,
answering nonsense) the last config that applied keeps serving, and the watch retries with jittered
exponential backoff (0.5 s doubling to 30 s). A config that does not apply (say a port that cannot be
bound) is refused the way the admin API refuses it: the old one stays, the refusal is reported on the
admin API (`GET /control-plane`), and the next version is tried as usual.

The client is a few lines of asyncio Streams rather than aiohttp: the data plane's memory budget is
40 MB and aiohttp alone costs several (docs/proxy.md, Performance). `unix:///path` URLs reach a control
plane in another network namespace through a socket file. A control plane that requires it
(`--require-proxy-token`) is shown the proxy's ServiceAccount token, read again for every poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from mesh.proxy.config import ConfigError, dump_config, parse_config

if TYPE_CHECKING:
    from mesh.proxy.app import Proxy

MIN_BACKOFF = 0.5
MAX_BACKOFF = 30.0
WAIT_SECONDS = 30.0
MAX_BODY = 16 * 1024 * 1024
TOKEN_FILE_ENV = "SLUICE_CONTROL_PLANE_TOKEN_FILE"


class ControlPlaneError(Exception):
    pass


async def http_request(
    url: str,
    path: str,
    timeout: float,
    method: str = "GET",
    body: bytes = b"",
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request (connection closed after it) to `http://host:port[/base]` + path or `unix:///socket`.

    Shared by the config watch and the OTLP exporter: both are control-path calls a few times a second."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        connecting = asyncio.open_unix_connection(parts.path, limit=MAX_BODY)
        host = "localhost"
    elif parts.scheme == "http":
        connecting = asyncio.open_connection(parts.hostname, parts.port or 80, limit=MAX_BODY)
        host = parts.netloc
    else:
        raise ControlPlaneError(f"control plane URL {url!r}: use http://HOST:PORT or unix:///PATH")
    reader, writer = await asyncio.wait_for(connecting, timeout)
    try:
        target = ((parts.path.rstrip("/") if parts.scheme == "http" else "") + path) or "/"
        extra = f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n" if method != "GET" else ""
        extra += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        writer.write(
            f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n{extra}connection: close\r\n\r\n".encode() + body
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        answer_headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        length = int(answer_headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise ControlPlaneError(f"config of {length} bytes is larger than {MAX_BODY}")
        answer = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return status, answer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class ConfigWatch:
    def __init__(
        self,
        proxy: Proxy,
        url: str,
        node: str,
        address: str = "0.0.0.0",
        wait: float = WAIT_SECONDS,
        max_backoff: float = MAX_BACKOFF,
        token_file: str | None = None,
    ) -> None:
        self.proxy = proxy
        self.given_token_file = token_file  # `sluice proxy --token-file`
        self.url = url
        self.node = node
        self.address = address
        self.wait = wait
        self.max_backoff = max_backoff
        self.version = 0
        self.state = "connecting"
        self.last_error = ""
        self.rejected = ""  # why the last config received did not apply
        self.applied = 0
        self.last_contact: float | None = None
        self.problems: list[str] = []
        self.synced = asyncio.Event()  # a config from the control plane has applied at least once
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        # A flag as well as a cancel: on Python 3.11 `asyncio.wait_for` can swallow a cancellation that
        # arrives as its timeout fires (gh-86296); the loop checks the flag, and the wait is bounded.
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2.0)

    def status(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "node": self.node,
            "address": self.address,
            "version": self.version,
            "state": self.state,
            "applied": self.applied,
            "last_error": self.last_error,
            "rejected": self.rejected,
            "seconds_since_contact": None
            if self.last_contact is None
            else round(time.monotonic() - self.last_contact, 1),
            "problems": self.problems,
        }

    def token_file(self) -> str | None:
        """The ServiceAccount token shown to the control plane: --token-file (or its environment variable),
        else the one the proxy gets its certificates with; none for a proxy that has neither (local, dev)."""
        tls = self.proxy.initial_config.tls
        given = self.given_token_file or os.environ.get(TOKEN_FILE_ENV)
        return given or (tls.issuer.token_file if tls and tls.issuer else None)

    def _headers(self) -> dict[str, str]:
        path = self.token_file()
        if path is None:
            return {}
        try:
            token = Path(path).read_text().strip()  # read every time: projected tokens rotate
        except OSError as exc:
            raise ControlPlaneError(f"cannot read the ServiceAccount token: {exc}") from None
        return {"authorization": f"Bearer {token}"}

    def _path(self) -> str:
        # With a certificate of its own the proxy can be sent backends that require a peer identity.
        mtls = "&mtls=1" if self.proxy.initial_config.tls is not None else ""
        return (
            f"/v1/config?node={quote(self.node, safe='')}&address={quote(self.address, safe='')}"
            f"&version={self.version}&wait={self.wait:g}{mtls}"
        )

    async def run(self) -> None:
        backoff = MIN_BACKOFF
        while not self._closing:
            try:
                status, body = await http_request(
                    self.url, self._path(), self.wait + 10.0, headers=self._headers()
                )
                self.last_contact = time.monotonic()
                if status == 200:
                    await self._apply(json.loads(body))
                elif status != 304:
                    raise ControlPlaneError(f"HTTP {status}: {body[:200].decode(errors='replace')}")
                if self.state != "synced" or self.last_error:
                    self.state, self.last_error = "synced", ""
                backoff = MIN_BACKOFF
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the control plane is away or misbehaving: keep serving, retry
                self.state = "unreachable"
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.proxy.log_error(
                    f"control plane {self.url}: {self.last_error}; keeping config v{self.version}, "
                    f"retrying in {backoff:.1f}s"
                )
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, self.max_backoff)

    async def _apply(self, document: dict[str, Any]) -> None:
        version = int(document["version"])
        try:
            # The control plane owns services, traffic_targets (and tracing if it sets it); the rest
            # (tls, access log, timeouts) stays as the proxy was started with.
            config = parse_config(
                {**dump_config(self.proxy.initial_config), **(document.get("config") or {})}
            )
            await self.proxy.apply(config)
        except ConfigError as exc:
            self.rejected = f"v{version}: {exc}"
            self.proxy.log_error(f"control plane config v{version} refused, keeping the last one: {exc}")
        else:
            self.rejected = ""
            self.applied += 1
            self.problems = list(document.get("problems") or [])
            self.synced.set()
        self.version = version
