"""The mesh CA: a root kept in a Kubernetes Secret, short-lived leaf certificates for ServiceAccounts.

Why this shape (reference/mesh.md §3, as Linkerd and Istio do it): each proxy makes its own key and sends a
CSR with its ServiceAccount token; the CA asks the apiserver who the token belongs to (TokenReview) and signs
a 24 h certificate whose only name is that account's SPIFFE URI, whatever the CSR asked for. Short
lifetimes stand in for revocation; the proxy renews at two thirds (mesh/proxy/certs.py).

The root (ECDSA P-256, 10 years) lives in a Secret, created on first start, so every control-plane replica
signs with the same key. An externally issued CA, e.g. a cert-manager Certificate, is used instead when its
Secret already exists: `tls.crt`/`tls.key` sign, `ca.crt` is the trust anchor handed to proxies.

The issuing endpoint is framework-free: `Issuer.handle(body, authorization)` returns (status, content
type, body) for whichever HTTP server mounts it (it blocks on the TokenReview: run it in a thread from an
event loop); `aiohttp_handler` mounts it on an aiohttp app such as the control plane's, and
`serve_issuer` is a minimal asyncio server for running it alone (`python -m mesh.identity --help`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesh import spiffe

LEAF_LIFETIME = 24 * 3600.0
ROOT_LIFETIME = 10 * 365 * 24 * 3600.0
# Leaves are valid from a little before now (Linkerd's clockSkewAllowance), at most a tenth of their life,
# so that renewal at 2/3 of (not_after - not_before) stays close to 2/3 of the lifetime asked for.
CLOCK_SKEW = 20.0
ISSUE_PATH = "/v1/certificates"
PEM_TYPE = "application/x-pem-file"
MAX_CSR_BYTES = 16 * 1024
_SA_USER_PREFIX = "system:serviceaccount:"


class IssuanceRefused(Exception):
    """A request the CA will not sign; `status` is the HTTP status that says why (400, 401, 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def identity_of(cert: x509.Certificate) -> str | None:
    """The SPIFFE URI SAN of `cert`, if it has one."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    return next(
        (
            uri
            for uri in names.get_values_for_type(x509.UniformResourceIdentifier)
            if uri.startswith("spiffe://")
        ),
        None,
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A signing certificate and key, and the chain a leaf is sent with (signing cert up to the root)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    root: x509.Certificate  # the trust anchor proxies verify peers against

    @classmethod
    def generate(
        cls,
        trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
        now: float | None = None,
        lifetime: float = ROOT_LIFETIME,
    ) -> CertificateAuthority:
        now = time.time() if now is None else now
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sluice"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"sluice mesh root CA ({trust_domain})"),
            ]
        )
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(now - CLOCK_SKEW))
            .not_valid_after(_utc(now + lifetime))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, cert)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes, ca_pem: bytes | None = None) -> CertificateAuthority:
        """From `tls.crt`, `tls.key` and optionally `ca.crt` (absent: the signing cert is the root)."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("the CA key must be an ECDSA or RSA key")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
            raise ValueError("tls.key does not belong to tls.crt")
        root = x509.load_pem_x509_certificates(ca_pem)[-1] if ca_pem and ca_pem.strip() else cert
        return cls(cert, key, root)

    @property
    def chain(self) -> list[x509.Certificate]:
        """What follows a leaf: the signing certificate, and the root when that is another certificate."""
        return [self.cert] if self.cert == self.root else [self.cert, self.root]

    def secret_data(self) -> dict[str, str]:
        """The Secret's `data` (base64), in the layout cert-manager uses."""
        key = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            name: base64.b64encode(value).decode()
            for name, value in (("tls.crt", _pem(self.cert)), ("tls.key", key), ("ca.crt", _pem(self.root)))
        }

    def issue(
        self, csr: x509.CertificateSigningRequest, identity: str, now: float, lifetime: float = LEAF_LIFETIME
    ) -> x509.Certificate:
        """A leaf for `identity` (a SPIFFE URI) over the CSR's key; never valid beyond the CA itself."""
        who = spiffe.parse(identity)
        public = csr.public_key()
        not_after = min(now + lifetime, self.cert.not_valid_after_utc.timestamp())
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{who.name}.{who.namespace}")]))
            .issuer_name(self.cert.subject)
            .public_key(public)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(_utc(now - min(CLOCK_SKEW, lifetime / 10)))
            .not_valid_after(_utc(not_after))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )

    def chain_pem(self, leaf: x509.Certificate) -> bytes:
        return b"".join(_pem(cert) for cert in (leaf, *self.chain))


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def load_or_create_ca(
    api_client: Any,
    namespace: str,
    secret: str,
    trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
    external: bool = False,
) -> CertificateAuthority:
    """The CA in Secret `namespace/secret`; generated and stored there first unless `external`.

    With `external` the Secret must exist already (cert-manager or an operator made it). Two replicas
    starting at once both try to create it: the loser reads the winner's.
    """
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api_client)
    for _ in range(2):
        try:
            data = core.read_namespaced_secret(secret, namespace).data or {}
        except ApiException as exc:
            if exc.status != 404:
                raise
        else:
            missing = [key for key in ("tls.crt", "tls.key") if key not in data]
            if missing:
                raise ValueError(f"Secret {namespace}/{secret} has no {', '.join(missing)}")
            ca = data.get("ca.crt")
            return CertificateAuthority.from_pem(
                base64.b64decode(data["tls.crt"]),
                base64.b64decode(data["tls.key"]),
                base64.b64decode(ca) if ca else None,
            )
        if external:
            raise ValueError(f"the external CA Secret {namespace}/{secret} does not exist")
        authority = CertificateAuthority.generate(trust_domain)
        body = {
            "metadata": {"name": secret, "labels": {"app.kubernetes.io/part-of": "sluice"}},
            "type": "kubernetes.io/tls",
            "data": authority.secret_data(),
        }
        try:
            core.create_namespaced_secret(namespace, body)
            return authority
        except ApiException as exc:
            if exc.status != 409:
                raise
    raise RuntimeError(f"Secret {namespace}/{secret} keeps disappearing")


class TokenReviewer(Protocol):
    def review(self, token: str) -> tuple[str, str]:
        """(namespace, ServiceAccount name) the token authenticates; IssuanceRefused(401/403) otherwise."""
        ...


class KubernetesTokenReviewer:
    """Asks the apiserver (TokenReview) who a bearer token belongs to; needs `tokenreviews: create`."""

    def __init__(self, api_client: Any, audiences: list[str] | None = None) -> None:
        self.api_client = api_client
        self.audiences = audiences or None

    def review(self, token: str) -> tuple[str, str]:
        from kubernetes import client

        spec: dict[str, Any] = {"token": token}
        if self.audiences:
            spec["audiences"] = self.audiences
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        status = client.AuthenticationV1Api(self.api_client).create_token_review(body).status
        if status is None or not status.authenticated:
            reason = (status.error if status is not None else None) or "not authenticated"
            raise IssuanceRefused(401, f"the token was refused by the apiserver: {reason}")
        username = status.user.username or ""
        namespace, _, name = username.removeprefix(_SA_USER_PREFIX).partition(":")
        if not username.startswith(_SA_USER_PREFIX) or not namespace or not name:
            raise IssuanceRefused(
                403, f"{username!r} is not a ServiceAccount; only workloads get certificates"
            )
        return namespace, name


class Issuer:
    """Signs CSRs for the ServiceAccount a token proves, and only for it."""

    def __init__(
        self,
        authority: CertificateAuthority,
        reviewer: TokenReviewer,
        trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
        lifetime: float = LEAF_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authority = authority
        self.reviewer = reviewer
        self.trust_domain = trust_domain
        self.lifetime = lifetime
        self.clock = clock

    def issue(self, csr_pem: bytes, token: str) -> bytes:
        """PEM chain (leaf first, root last) for the token's identity; IssuanceRefused otherwise."""
        if not token:
            raise IssuanceRefused(401, "send the ServiceAccount token as `Authorization: Bearer TOKEN`")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise IssuanceRefused(400, f"the body is not a PEM certificate signing request: {exc}") from None
        if not csr.is_signature_valid:
            raise IssuanceRefused(400, "the CSR's signature does not verify")
        _check_key(csr.public_key())
        namespace, name = self.reviewer.review(token)
        identity = spiffe.Identity(self.trust_domain, namespace, name).uri
        try:
            asked = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            asked = None
        if asked is not None:
            others = [str(n.value) for n in asked if n.value != identity]
            if others:
                raise IssuanceRefused(403, f"the token proves {identity}; the CSR also asks for {others}")
        leaf = self.authority.issue(csr, identity, self.clock(), self.lifetime)
        return self.authority.chain_pem(leaf)

    def handle(self, body: bytes, authorization: str | None) -> tuple[int, str, bytes]:
        """The HTTP endpoint: POST body = CSR PEM, `Authorization: Bearer TOKEN` -> (status, type, body)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise IssuanceRefused(401, "send the ServiceAccount token as `Authorization: Bearer TOKEN`")
            if len(body) > MAX_CSR_BYTES:
                raise IssuanceRefused(400, f"a CSR is at most {MAX_CSR_BYTES} bytes")
            return 200, PEM_TYPE, self.issue(body, token.strip())
        except IssuanceRefused as exc:
            return exc.status, "application/json", json.dumps({"error": str(exc)}).encode()


def _check_key(key: Any) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 256:
        return
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return
    raise IssuanceRefused(400, "the CSR key must be ECDSA (P-256 or stronger) or RSA of 2048 bits or more")


def cluster_issuer(
    api_client: Any,
    namespace: str,
    secret: str,
    external: bool = False,
    trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
    lifetime: float = LEAF_LIFETIME,
    audiences: list[str] | None = None,
) -> Issuer:
    """The Issuer of a control plane: CA from (or created in) the Secret, tokens checked by TokenReview."""
    authority = load_or_create_ca(api_client, namespace, secret, trust_domain, external)
    return Issuer(authority, KubernetesTokenReviewer(api_client, audiences), trust_domain, lifetime)


def aiohttp_handler(issuer: Issuer) -> Callable[[Any], Awaitable[Any]]:
    """`app.router.add_post(ISSUE_PATH, aiohttp_handler(issuer))`: the endpoint on an aiohttp server."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_CSR_BYTES:
            return web.json_response({"error": f"a CSR is at most {MAX_CSR_BYTES} bytes"}, status=400)
        body = await request.read()
        status, content_type, payload = await asyncio.to_thread(
            issuer.handle, body, request.headers.get("Authorization")
        )
        return web.Response(status=status, content_type=content_type, body=payload)

    return handle


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


async def serve_issuer(issuer: Issuer, address: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """A minimal HTTP/1.1 server for `POST /v1/certificates` (one request per connection)."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target = [*head[0].split(" "), "", ""][:2]
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = min(int(headers.get("content-length") or 0), MAX_CSR_BYTES + 1)
            body = await reader.readexactly(length) if length else b""
            if target.split("?")[0] != ISSUE_PATH:
                reply = (404, "application/json", b'{"error": "not found"}')
            elif method != "POST":
                reply = (405, "application/json", b'{"error": "POST a CSR"}')
            else:
                reply = await asyncio.to_thread(issuer.handle, body, headers.get("authorization"))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            writer.close()
            return
        except Exception as exc:  # the apiserver is away, say: answer, and keep serving
            reply = (500, "application/json", json.dumps({"error": f"issuing failed: {exc}"}).encode())
        status, content_type, payload = reply
        writer.write(
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode()
            + payload
        )
        try:
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(client, address, port, reuse_address=True)


def main(argv: list[str] | None = None) -> None:
    from controller.api.durations import parse_duration

    parser = argparse.ArgumentParser(description="Run the mesh CA's issuing endpoint on its own.")
    parser.add_argument("--kubeconfig", help="default: in-cluster config")
    parser.add_argument("--namespace", default="sluice-system", help="namespace of the CA Secret")
    parser.add_argument("--secret", default="sluice-mesh-ca", help="the CA Secret (created if missing)")
    parser.add_argument(
        "--external", action="store_true", help="the Secret is issued elsewhere; never create it"
    )
    parser.add_argument("--trust-domain", default=spiffe.DEFAULT_TRUST_DOMAIN)
    parser.add_argument("--lifetime", default="24h", help="leaf certificate lifetime, e.g. 24h or 90s")
    parser.add_argument("--audience", action="append", default=[], help="token audiences to require")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    options = parser.parse_args(argv)

    from kubernetes import client, config

    if options.kubeconfig:
        api = config.new_client_from_config(options.kubeconfig)
    else:
        config.load_incluster_config()
        api = client.ApiClient()
    try:
        issuer = cluster_issuer(
            api,
            options.namespace,
            options.secret,
            external=options.external,
            trust_domain=options.trust_domain,
            lifetime=parse_duration(options.lifetime),
            audiences=options.audience,
        )
    except ValueError as exc:
        parser.exit(1, f"sluice mesh CA: {exc}\n")

    async def run() -> None:
        server = await serve_issuer(issuer, options.address, options.port)
        bound = server.sockets[0].getsockname()[1]
        print(f"sluice mesh CA issuing on http://{options.address}:{bound}{ISSUE_PATH}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
