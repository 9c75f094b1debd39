"""A real Kubernetes control plane on loopback for sluice's tests: etcd, kube-apiserver, kcm, scheduler, kwok.

Why: sluice's production home is Kubernetes, and fakes of the API server hide exactly the behaviour that
matters (admission, RBAC, resourceVersion conflicts, watches, garbage collection). So tests talk to the real
thing, built from the Go modules (tests/cluster/build.sh) and started here as plain processes:

- etcd on a free 127.0.0.1 port, data in a temp dir, no fsync;
- kube-apiserver with RBAC, token auth (an admin token in system:masters), a serving cert from our own
  tiny CA, a service-account signing key, and `--endpoint-reconciler-type=none`;
- kube-controller-manager limited to the controllers Deployments, ReplicaSets, DaemonSets, Services,
  ServiceAccounts, tokens, garbage collection and namespace deletion need;
- kube-scheduler (kwok only manages pods bound to its nodes);
- kwok managing only nodes annotated `kwok.x-k8s.io/node=fake`, with the project's stages
  (tests/cluster/stages) that make Nodes Ready and Pods Running+Ready, and really delete Pods marked
  for deletion.

Nothing listens outside 127.0.0.1. Pod and Service addresses come from reserved ranges that are not routed on
any real network (see README.md); tests must never connect to them. Every process is stopped by its own PID.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.harness import processes
from tests.harness.net import free_port
from tests.harness.poll import wait_until

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build.sh"
STAGES_DIR = HERE / "stages"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

# Reserved, never-routed ranges (README.md, "Network safety"). 192.0.2.0/24 is deliberately NOT used: it is
# this machine's real LAN.
SERVICE_CIDR = "198.19.0.0/20"  # RFC 2544 benchmarking block 198.18.0.0/15, second half
POD_CIDR = "198.18.0.0/16"  # RFC 2544 benchmarking block 198.18.0.0/15, first half
NODE_IP = "203.0.113.1"  # RFC 5737 TEST-NET-3, documentation only

FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
ADMIN_USER = "sluice-admin"
KCM_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "daemonset-controller",
    "job-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "pod-garbage-collector-controller",
)


# ---------------------------------------------------------------------------------------------- binaries


def binaries_dir() -> Path:
    """The per-version cache dir build.sh fills (it may not exist yet)."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-dir"], check=True, capture_output=True, text=True, timeout=60
    )
    return Path(out.stdout.strip().splitlines()[-1])


def binaries_present(directory: Path | None = None) -> bool:
    directory = directory or binaries_dir()
    return (directory / ".complete").is_file() and all(
        os.access(directory / name, os.X_OK) for name in BINARIES
    )


def ensure_binaries(log_path: Path | None = None, timeout: float = 3 * 3600) -> Path:
    """Return the binaries dir, running build.sh first if the cache is incomplete (a cold build is slow)."""
    directory = binaries_dir()
    if binaries_present(directory):
        return directory
    if log_path is None:
        subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, timeout=timeout)
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            result = subprocess.run(
                ["bash", str(BUILD_SCRIPT)], stdout=log, stderr=subprocess.STDOUT, timeout=timeout
            )
        if result.returncode != 0:
            raise RuntimeError(f"tests/cluster/build.sh failed (exit {result.returncode}):\n{tail(log_path)}")
    if not binaries_present(directory):
        raise RuntimeError(f"build.sh finished but {directory} is incomplete")
    return directory


# ---------------------------------------------------------------------------------------------- PKI


def _write_pki(directory: Path) -> dict[str, Path]:
    """A throwaway CA, a serving cert for 127.0.0.1/localhost, and a service-account signing key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=30)

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        # SEC1 "EC PRIVATE KEY": keyutil.ParsePublicKeysPEM (--service-account-key-file) rejects PKCS8 EC keys
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sluice-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    import ipaddress

    serving_key = ec.generate_private_key(ec.SECP256R1())
    sans = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    serving_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(serving_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = ec.generate_private_key(ec.SECP256R1())

    paths = {
        "ca.crt": directory / "ca.crt",
        "apiserver.crt": directory / "apiserver.crt",
        "apiserver.key": directory / "apiserver.key",
        "sa.key": directory / "sa.key",
    }
    paths["ca.crt"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["apiserver.crt"].write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
    paths["apiserver.key"].write_bytes(key_pem(serving_key))
    paths["sa.key"].write_bytes(key_pem(sa_key))
    for name in ("apiserver.key", "sa.key"):
        paths[name].chmod(0o600)
    return paths


# ---------------------------------------------------------------------------------------------- helpers


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"<{path}: {exc}>"
    return "\n".join(text[-lines:])


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str, user: str = "user") -> Path:
    """A kubeconfig with one cluster, one token user and one current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "sluice-test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "sluice-test", "context": {"cluster": "sluice-test", "user": user}}],
        "current-context": "sluice-test",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def _https_get(url: str, token: str | None = None, ca_file: Path | None = None, timeout: float = 2.0) -> int:
    """Status code of a GET to a loopback HTTPS endpoint (unverified when no CA is given: self-signed)."""
    if ca_file is not None:
        context = ssl.create_default_context(cafile=str(ca_file))
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------------------------- control plane


@dataclass
class Component:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class ControlPlane:
    """One running test cluster. `start()` returns once Nodes are Ready and the kcm has made default SAs."""

    workdir: Path
    binaries: Path
    nodes: int = 2
    components: list[Component] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    ports: dict[str, int] = field(default_factory=dict)
    # Tests: if the Python process dies hard (SIGKILL, OOM), the kernel SIGKILLs every component too
    # (setpriv --pdeathsig), so a killed pytest leaves no apiserver behind. Off for `make cluster`.
    die_with_parent: bool = True

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    # -- lifecycle

    def start(self, timeout: float = 180.0, attempts: int = 2) -> ControlPlane:
        """Start everything; on failure stop what started and, once, try again from scratch on new ports.

        Why a retry: ports are picked free but bound later by the child, so another process on this shared
        machine can take one in between. The failed attempt's logs stay in `logs-failed-<n>/`.
        """
        for attempt in range(1, attempts + 1):
            deadline = time.monotonic() + timeout
            try:
                self._start(deadline)
                return self
            except Exception:
                self.stop()
                if attempt == attempts:
                    raise
                self._reset(attempt)
            except BaseException:
                self.stop()
                raise
        return self

    def _reset(self, attempt: int) -> None:
        if self.log_dir.exists():
            self.log_dir.rename(self.workdir / f"logs-failed-{attempt}")
        for path in self.workdir.iterdir():
            if path.name.startswith("logs-failed-"):
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        self.ports.clear()

    def _remaining(self, deadline: float) -> float:
        return max(1.0, deadline - time.monotonic())

    def _start(self, deadline: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        pki = _write_pki(self.workdir / "pki")
        for name in ("etcd_client", "etcd_peer", "apiserver", "kcm", "scheduler"):
            self.ports[name] = free_port()
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER}-uid,"system:masters"\n')
        tokens.chmod(0o600)
        write_kubeconfig(self.kubeconfig, self.server, pki["ca.crt"], self.token, user=ADMIN_USER)

        etcd_url = f"http://127.0.0.1:{self.ports['etcd_client']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        self._spawn(
            "etcd",
            [
                "--name=sluice-test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=sluice-test={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait(
            "etcd /health",
            lambda: _http_json(f"{etcd_url}/health").get("health") == "true",
            deadline,
        )

        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports['apiserver']}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki['apiserver.crt']}",
                f"--tls-private-key-file={pki['apiserver.key']}",
                f"--client-ca-file={pki['ca.crt']}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki['sa.key']}",
                f"--service-account-signing-key-file={pki['sa.key']}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                "--allow-privileged=true",
                "--profiling=false",
                "--anonymous-auth=false",
                # No node-lifecycle controller runs to lift the not-ready taint this plugin puts on new
                # Nodes, so keep fake nodes untainted from the start.
                "--disable-admission-plugins=TaintNodesByCondition",
            ],
        )
        self._wait(
            "kube-apiserver /readyz",
            lambda: _https_get(f"{self.server}/readyz", self.token, pki["ca.crt"]) == 200,
            deadline,
        )

        kc = str(self.kubeconfig)
        common = [
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            # no front proxy: do not watch for a requestheader CA (it only logs errors every second)
            "--authentication-skip-lookup=true",
        ]
        self._spawn(
            "kube-controller-manager",
            [
                *common,
                f"--secure-port={self.ports['kcm']}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                f"--controllers={','.join(KCM_CONTROLLERS)}",
                f"--service-account-private-key-file={pki['sa.key']}",
                f"--root-ca-file={pki['ca.crt']}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--use-service-account-credentials=false",
                "--concurrent-gc-syncs=5",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                *common,
                f"--secure-port={self.ports['scheduler']}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
            ],
        )
        stages = sorted(STAGES_DIR.glob("*.yaml"))
        key, value = FAKE_NODE_ANNOTATION
        self._spawn(
            "kwok",
            [
                f"--kubeconfig={kc}",
                *(f"--config={path}" for path in stages),
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={key}={value}",
                f"--cidr={POD_CIDR}",
                f"--node-ip={NODE_IP}",
                "--node-lease-duration-seconds=40",
            ],
            env={"KWOK_WORKDIR": str(self.workdir / "kwok")},
        )

        from kubernetes import client

        api = self.api_client()
        try:
            core = client.CoreV1Api(api)
            for index in range(self.nodes):
                core.create_node(fake_node(f"kwok-node-{index}"))
            self._wait("fake nodes Ready", lambda: self._nodes_ready(core), deadline)
            self._wait(
                "kube-scheduler /healthz",
                lambda: _https_get(f"https://127.0.0.1:{self.ports['scheduler']}/healthz") == 200,
                deadline,
            )
            self._wait(
                "kube-controller-manager /healthz",
                lambda: _https_get(f"https://127.0.0.1:{self.ports['kcm']}/healthz") == 200,
                deadline,
            )
            self._wait(
                "the default ServiceAccount (kcm serviceaccount-controller)",
                lambda: core.read_namespaced_service_account("default", "default"),
                deadline,
            )
        finally:
            api.close()

    def _nodes_ready(self, core: Any) -> bool:
        nodes = core.list_node().items
        ready = 0
        for node in nodes:
            for condition in node.status.conditions or []:
                if condition.type == "Ready" and condition.status == "True":
                    ready += 1
        return ready >= self.nodes

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = self.log_dir / f"{name}.log"
        argv = [str(self.binaries / name), *args]
        setpriv = shutil.which("setpriv")
        if self.die_with_parent and setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", *argv]  # setpriv execs: the PID stays the component's
        proc = processes.start(argv, log, env=env, cwd=self.workdir)
        self.components.append(Component(name, proc, log))

    def _wait(self, what: str, condition: Callable[[], Any], deadline: float) -> None:
        def check() -> Any:
            for component in self.components:
                if component.proc.poll() is not None:
                    raise _Died(f"{component.name} exited with {component.proc.returncode}")
            return condition()

        try:
            wait_until(check, timeout=self._remaining(deadline), interval=0.2, what=what)
        except (TimeoutError, _Died) as exc:
            raise RuntimeError(f"test cluster: {exc}\n{self.log_tails()}") from exc

    def stop(self) -> None:
        """Stop every component by its PID, newest first (kwok and controllers before apiserver and etcd)."""
        for component in reversed(self.components):
            processes.stop(component.proc, timeout=15)
        self.components.clear()

    def running(self) -> bool:
        return bool(self.components) and all(c.proc.poll() is None for c in self.components)

    def pids(self) -> dict[str, int]:
        return {c.name: c.proc.pid for c in self.components}

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            parts.append(f"----- {log} (last {lines} lines) -----\n{tail(log, lines)}")
        return "\n".join(parts)

    # -- clients

    def api_client(self) -> Any:
        """A new admin `kubernetes.client.ApiClient` (system:masters token); close it when done."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def client_for_token(self, token: str) -> Any:
        """A new ApiClient that authenticates with `token` (e.g. a restricted ServiceAccount's)."""
        path = self.kubeconfig_for_token(token)
        from kubernetes import config

        return config.new_client_from_config(config_file=str(path))

    def kubeconfig_for_token(self, token: str, path: Path | None = None) -> Path:
        """Write a kubeconfig for `token` (for processes under test that should run with limited rights)."""
        if path is None:
            digest = base64.urlsafe_b64encode(os.urandom(6)).decode().rstrip("=")
            path = self.workdir / "kubeconfigs" / f"token-{digest}.yaml"
        return write_kubeconfig(path, self.server, self.ca_file, token)


class _Died(BaseException):
    """A component exited while we waited: a BaseException so wait_until's "not yet" retry lets it through."""


def fake_node(name: str) -> dict[str, Any]:
    """A Node kwok manages (annotation), labelled like a real one, with no taints so any pod can land."""
    key, value = FAKE_NODE_ANNOTATION
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/role": "agent",
                "type": "kwok",
            },
        },
        "spec": {},
    }


# ---------------------------------------------------------------------------------------------- CRDs, RBAC


def install_crds(
    api_client: Any, manifests: Iterable[dict[str, Any] | str | Path], timeout: float = 30.0
) -> list[str]:
    """Create (or replace) CustomResourceDefinitions and wait until each is Established and served.

    `manifests`: dicts, YAML file paths, or YAML strings (multi-document; non-CRD documents are ignored).
    Returns the CRD names. Waiting follows envtest: conditions first, then discovery for every served version.
    """
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    documents: list[dict[str, Any]] = []
    for item in manifests:
        if isinstance(item, dict):
            documents.append(item)
            continue
        is_text = isinstance(item, str) and ("\n" in item or item.lstrip().startswith(("{", "apiVersion")))
        text = str(item) if is_text else Path(item).read_text()
        documents.extend(doc for doc in yaml.safe_load_all(text) if doc)
    crds = [doc for doc in documents if doc.get("kind") == "CustomResourceDefinition"]

    ext = client.ApiextensionsV1Api(api_client)
    names = []
    for crd in crds:
        name = crd["metadata"]["name"]
        names.append(name)
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = ext.read_custom_resource_definition(name)
            body = {
                **crd,
                "metadata": {**crd["metadata"], "resourceVersion": current.metadata.resource_version},
            }
            ext.replace_custom_resource_definition(name, body)

    def established(name: str) -> bool:
        conditions = ext.read_custom_resource_definition(name).status.conditions or []
        state = {c.type: c.status for c in conditions}
        return state.get("Established") == "True" and state.get("NamesAccepted") == "True"

    def served(crd: dict[str, Any]) -> bool:
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            resources = client.CustomObjectsApi(api_client).get_api_resources(group, version["name"])
            if plural not in {r.name for r in resources.resources}:
                return False
        return True

    for crd in crds:
        name = crd["metadata"]["name"]
        wait_until(lambda name=name: established(name), timeout=timeout, what=f"CRD {name} Established")
        wait_until(lambda crd=crd: served(crd), timeout=timeout, what=f"CRD {name} in discovery")
    return names


def create_service_account_token(
    api_client: Any,
    namespace: str,
    name: str,
    rules: list[dict[str, Any]] | None = None,
    cluster_rules: list[dict[str, Any]] | None = None,
    expiration_seconds: int = 3600,
) -> str:
    """Create a ServiceAccount, bind it to a Role with `rules` (and a ClusterRole with `cluster_rules`, if
    given), and return a bound token for it from the TokenRequest API. With no rules it may do nothing at all.
    """
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    if rules:
        rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [subject],
            },
        )
    if cluster_rules:
        cluster_name = f"{namespace}-{name}"
        rbac.create_cluster_role({"metadata": {"name": cluster_name}, "rules": cluster_rules})
        rbac.create_cluster_role_binding(
            {
                "metadata": {"name": cluster_name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_name,
                },
                "subjects": [subject],
            }
        )
    request = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": expiration_seconds}}
    )
    return request.status.token


# ---------------------------------------------------------------------------------------------- manual use


def state_dir() -> Path:
    """Where `make cluster` keeps its data, logs, kubeconfig and PIDs (git-ignored `.sluice/`)."""
    return Path(os.environ.get("SLUICE_CLUSTER_STATE", HERE.parent.parent / ".sluice" / "cluster"))


def up(directory: Path | None = None, nodes: int = 2) -> ControlPlane:
    """Start a long-lived cluster for manual use; PIDs go to <state>/pids.json for `down()`."""
    directory = directory or state_dir()
    if any(pid_runs(pid, exe) for pid, exe in recorded_pids(directory)):
        raise RuntimeError(f"a cluster is already running from {directory} (make cluster-down first)")
    if directory.exists():  # a fresh cluster every time: old data, certs and logs go
        shutil.rmtree(directory)
    plane = ControlPlane(workdir=directory, binaries=ensure_binaries(), nodes=nodes, die_with_parent=False)
    plane.start()
    record = [
        {"name": c.name, "pid": c.proc.pid, "exe": str(plane.binaries / c.name)} for c in plane.components
    ]
    (directory / "pids.json").write_text(json.dumps(record, indent=2))
    return plane


def recorded_pids(directory: Path) -> list[tuple[int, str]]:
    try:
        data = json.loads((directory / "pids.json").read_text())
    except (OSError, ValueError):
        return []
    return [(int(entry["pid"]), str(entry["exe"])) for entry in data]


def pid_runs(pid: int, exe: str) -> bool:
    """True if `pid` still runs `exe` (guards against killing a recycled PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].decode(errors="replace") == exe


def down(directory: Path | None = None, timeout: float = 15.0) -> list[int]:
    """Stop the processes recorded by `up()` by their PIDs (newest first); return the PIDs signalled."""
    directory = directory or state_dir()
    stopped = []
    for pid, exe in reversed(recorded_pids(directory)):
        if not pid_runs(pid, exe):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        stopped.append(pid)
        try:
            wait_until(
                lambda pid=pid, exe=exe: not pid_runs(pid, exe), timeout=timeout, what=f"pid {pid} to exit"
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        (directory / "pids.json").unlink()
    return stopped


def new_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sluice-k8s-"))
