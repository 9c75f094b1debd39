"""What the mTLS and access-control tests share: certificate files, proxy processes, load, TLS probes."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mesh import spiffe
from mesh.identity import CertificateAuthority
from mesh.proxy.admin_client import AdminClient
from mesh.proxy.certs_helper import key_and_csr
from tests.harness.net import free_port, wait_for_http
from tests.harness.processes import python_module, start

UPSTREAM = Path(__file__).parents[1] / "proxy" / "upstream.py"


def identity(name: str, namespace: str = "shop") -> str:
    return spiffe.Identity(spiffe.DEFAULT_TRUST_DOMAIN, namespace, name).uri


def issue_files(ca: CertificateAuthority, folder: Path, name: str, namespace: str = "shop") -> dict[str, str]:
    """Certificate, key and trust anchor for ServiceAccount `namespace/name`: a proxy `tls.files` section."""
    key_pem, csr_pem = key_and_csr()
    leaf = ca.issue(x509.load_pem_x509_csr(csr_pem), identity(name, namespace), time.time())
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"cert": folder / f"{name}.crt", "key": folder / f"{name}.key", "ca": folder / "ca.crt"}
    paths["cert"].write_bytes(ca.chain_pem(leaf))
    paths["key"].write_bytes(key_pem)
    paths["ca"].write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    return {kind: str(path) for kind, path in paths.items()}


def start_upstream(folder: Path, name: str) -> tuple[Any, int]:
    port = free_port()
    proc = start([sys.executable, str(UPSTREAM), name, str(port)], folder / f"{name}.log")
    wait_for_http(f"http://127.0.0.1:{port}/_count")
    return proc, port


@dataclass
class ProxyProcess:
    proc: Any
    admin: AdminClient
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
        total = 0.0
        for line in self.admin.metrics().splitlines():
            found = re.match(rf"^{name}(\{{.*\}})? (\S+)$", line)
            if found and all(f'{key}="{value}"' in (found.group(1) or "") for key, value in labels.items()):
                total += float(found.group(2))
        return total


def start_proxy(folder: Path, name: str, config: dict[str, Any]) -> ProxyProcess:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    admin_port = free_port()
    log = folder / f"{name}.log"
    proc = start(
        python_module("controller.cli.proxy", "--config", str(path), "--admin-port", str(admin_port)), log
    )
    wait_for_http(f"http://127.0.0.1:{admin_port}/healthz", timeout=20)
    return ProxyProcess(proc, AdminClient(f"http://127.0.0.1:{admin_port}"), log)


def outbound(name: str, port: int, target_port: int, target: str, tls: dict[str, Any]) -> dict[str, Any]:
    """A client-side proxy: plain listener on `port`, mTLS to the mesh endpoint 127.0.0.1:`target_port`."""
    return {
        "tls": tls,
        "services": [
            {
                "name": name,
                "namespace": "shop",
                "port": port,
                "backends": {name: {"endpoints": [f"127.0.0.1:{target_port}"], "identity": target}},
                "split": {name: 100},
                "resilience": {"retries": {"attempts": 0}},
            }
        ],
    }


def inbound(name: str, port: int, app_port: int, tls: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A server-side proxy: mTLS listener on `port`, plain to the app on `app_port`."""
    return {
        "tls": tls,
        "services": [
            {
                "name": name,
                "namespace": "shop",
                "port": port,
                "tls": True,
                "backends": {name: {"endpoints": [f"127.0.0.1:{app_port}"]}},
                "split": {name: 100},
            }
        ],
        **extra,
    }


def get(port: int, method: str = "GET", path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def client_context(files: dict[str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(files["ca"])
    context.load_cert_chain(files["cert"], files["key"])
    return context


def served_certificate(port: int, context: ssl.SSLContext) -> x509.Certificate:
    """The certificate an mTLS listener presents to a new connection right now."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))  # type: ignore[arg-type]


@dataclass
class Load:
    """Threads sending requests over keep-alive connections until stopped; every outcome is kept."""

    port: int
    threads: int = 4
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=15)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.statuses.values()) + len(self.errors)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self._stop.is_set():
            try:
                conn.request("GET", "/work")
                response = conn.getresponse()
                response.read()
                with self._lock:
                    self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()
