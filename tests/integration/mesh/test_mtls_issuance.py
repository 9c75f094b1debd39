"""The mesh CA against the real apiserver: its root in a Secret, certificates only for what a token proves.

The issuer runs as its own process (`python -m mesh.identity`) with the admin kubeconfig; the other side
is `mesh.proxy.certs.HelperSource`, the code a proxy runs (its certificate helper process).
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh.identity import ISSUE_PATH, CertificateAuthority
from mesh.proxy.certs import CertificateError, HelperSource
from mesh.proxy.certs_helper import key_and_csr
from mesh.proxy.config import Tls, TlsIssuer
from mesh.proxy.tls import Bundle
from tests.harness.net import free_port, wait_for_port
from tests.harness.processes import python_module, start, stop
from tests.integration.mesh.mtls_rig import identity

Issuer = Callable[..., str]


@pytest.fixture
def run_issuer(k8s_kubeconfig: Path, k8s_namespace: str, tmp_path: Path) -> Iterator[Issuer]:
    """run_issuer(*args) -> URL of a running `python -m mesh.identity`, its CA in the test namespace."""
    procs: list[subprocess.Popen] = []

    def run(*extra: str) -> str:
        port = free_port()
        args = ["--kubeconfig", str(k8s_kubeconfig), "--namespace", k8s_namespace, "--port", str(port)]
        proc = start(python_module("mesh.identity", *args, *extra), tmp_path / f"issuer-{port}.log")
        procs.append(proc)
        wait_for_port(port, timeout=30)
        return f"http://127.0.0.1:{port}{ISSUE_PATH}"

    yield run
    for proc in procs:
        stop(proc)


def secret(api: Any, namespace: str, name: str = "sluice-mesh-ca") -> dict[str, bytes]:
    from kubernetes import client

    data = client.CoreV1Api(api).read_namespaced_secret(name, namespace).data
    return {key: base64.b64decode(value) for key, value in data.items()}


def token_file(folder: Path, token: str, name: str) -> str:
    path = folder / f"{name}.token"
    path.write_text(token)
    return str(path)


def fetch(url: str, token_file: str) -> Bundle:
    """What a proxy does: its certificate helper process sends a CSR with the token."""
    return HelperSource(Tls(issuer=TlsIssuer(url=url, token_file=token_file))).fetch()


def post(url: str, body: bytes, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_service_account_token_gets_a_certificate_for_its_own_identity_only(
    run_issuer: Issuer, k8s_api: Any, k8s_namespace: str, k8s_sa_token: Callable[..., str], tmp_path: Path
) -> None:
    url = run_issuer("--lifetime", "1h")
    token = k8s_sa_token("web")
    bundle = fetch(url, token_file(tmp_path, token, "web"))
    assert bundle.identity == identity("web", k8s_namespace)
    assert 3590 < bundle.not_after - time.time() <= 3600

    stored = secret(k8s_api, k8s_namespace)  # the CA was created in its Secret on first start
    root = x509.load_pem_x509_certificate(stored["ca.crt"])
    assert stored["tls.crt"] == stored["ca.crt"]
    leaf = x509.load_pem_x509_certificates(bundle.chain_pem)[0]
    leaf.verify_directly_issued_by(root)
    assert x509.load_pem_x509_certificate(bundle.trust_pem) == root

    key = ec.generate_private_key(ec.SECP256R1())
    greedy = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity("admin", k8s_namespace))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    status, answer = post(url, greedy, token)
    assert status == 403
    assert f"the token proves {identity('web', k8s_namespace)}" in answer["error"]


def test_a_bad_token_is_refused(run_issuer: Issuer, k8s_sa_token: Callable[..., str], tmp_path: Path) -> None:
    url = run_issuer()
    token = k8s_sa_token("web")
    _, csr = key_and_csr()
    status, answer = post(url, csr, token[:-4] + "AAAA")
    assert status == 401
    assert "refused by the apiserver" in answer["error"]
    with pytest.raises(CertificateError, match=r"refused the CSR \(401\)"):
        fetch(url, token_file(tmp_path, "not-a-token", "bad"))


def test_a_restarted_issuer_signs_with_the_same_root(
    run_issuer: Issuer, k8s_api: Any, k8s_namespace: str, k8s_sa_token: Callable[..., str], tmp_path: Path
) -> None:
    api_token = token_file(tmp_path, k8s_sa_token("api"), "api")
    first = fetch(run_issuer(), api_token)
    again = fetch(run_issuer(), api_token)
    assert first.trust_pem == again.trust_pem == secret(k8s_api, k8s_namespace)["ca.crt"]


def test_an_external_ca_from_an_existing_secret(
    run_issuer: Issuer, k8s_api: Any, k8s_namespace: str, k8s_sa_token: Callable[..., str], tmp_path: Path
) -> None:
    from kubernetes import client

    root = CertificateAuthority.generate()
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mesh issuer (cert-manager)")]))
        .issuer_name(root.cert.subject)
        .public_key(issuer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = issuer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    data = {
        "tls.crt": intermediate.public_bytes(pem),
        "tls.key": key_pem,
        "ca.crt": root.cert.public_bytes(pem),
    }
    client.CoreV1Api(k8s_api).create_namespaced_secret(
        k8s_namespace,
        {
            "metadata": {"name": "mesh-issuer"},
            "type": "kubernetes.io/tls",
            "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
        },
    )
    url = run_issuer("--secret", "mesh-issuer", "--external")
    bundle = fetch(url, token_file(tmp_path, k8s_sa_token("web"), "web"))
    leaf, middle, anchor = x509.load_pem_x509_certificates(bundle.chain_pem)
    assert (middle, anchor) == (intermediate, root.cert)
    leaf.verify_directly_issued_by(intermediate)
    assert bundle.trust_pem == root.cert.public_bytes(pem)


def test_an_external_ca_that_is_missing_stops_the_issuer(
    k8s_kubeconfig: Path, k8s_namespace: str, tmp_path: Path
) -> None:
    args = [
        "--kubeconfig",
        str(k8s_kubeconfig),
        "--namespace",
        k8s_namespace,
        "--secret",
        "nope",
        "--external",
    ]
    done = subprocess.run(python_module("mesh.identity", *args), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"the external CA Secret {k8s_namespace}/nope does not exist" in done.stderr
