"""Getting a certificate, run in a short-lived child of the proxy: `python -m mesh.proxy.certs_helper`.

Why a child process: making a key and a CSR and reading certificates needs `cryptography`, whose Rust core
costs a proxy 11 MB of RSS for the rest of its life, to be used once every 16 hours. The proxy sends the
`tls` section as JSON on stdin and reads a Bundle as JSON on stdout; on failure the child exits 1 with one
line on stderr. Everything here is importable too (the CA's tests and tools use it in-process).

From the issuer: a fresh ECDSA P-256 key per certificate, in memory; only the CSR and the ServiceAccount
token (read again every time: projected tokens rotate) leave the pod. From files: read as they are.
"""

from __future__ import annotations

import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh.identity import identity_of
from mesh.proxy.certs import FETCH_TIMEOUT, CertificateError, encode
from mesh.proxy.config import Tls, TlsFiles, TlsIssuer
from mesh.proxy.tls import Bundle


def bundle_from_pem(chain_pem: bytes, key_pem: bytes, trust_pem: bytes | None = None) -> Bundle:
    """A Bundle from a PEM chain (leaf first); without `trust_pem` the chain's last cert is the anchor."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate chain: {exc}") from None
    leaf = certs[0]
    identity = identity_of(leaf)
    if identity is None:
        raise CertificateError("the certificate has no spiffe:// URI SAN, so it names no mesh identity")
    if trust_pem is None:
        trust_pem = certs[-1].public_bytes(serialization.Encoding.PEM)
    return Bundle(
        chain_pem=chain_pem,
        key_pem=key_pem,
        trust_pem=trust_pem,
        identity=identity,
        not_before=leaf.not_valid_before_utc.timestamp(),
        not_after=leaf.not_valid_after_utc.timestamp(),
    )


def key_and_csr() -> tuple[bytes, bytes]:
    """A new P-256 key (PEM, PKCS#8) and a CSR for it; the CA decides the names, so the CSR asks for none."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sluice-proxy")]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def from_issuer(settings: TlsIssuer) -> Bundle:
    """POST a CSR with the ServiceAccount token to the mesh CA's issuing endpoint."""
    try:
        token = Path(settings.token_file).read_text().strip()
    except OSError as exc:
        raise CertificateError(f"cannot read the ServiceAccount token: {exc}") from None
    key_pem, csr_pem = key_and_csr()
    request = urllib.request.Request(
        settings.url,
        data=csr_pem,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pkcs10"},
    )
    context = ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT, context=context) as response:
            chain = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()
        raise CertificateError(f"{settings.url} refused the CSR ({exc.code}): {detail}") from None
    except (OSError, ValueError) as exc:
        raise CertificateError(f"{settings.url}: {exc}") from None
    return bundle_from_pem(chain, key_pem)


def from_files(settings: TlsFiles) -> Bundle:
    """Read a certificate, key and trust anchors that something else keeps current."""
    try:
        chain, key, trust = (Path(p).read_bytes() for p in (settings.cert, settings.key, settings.ca))
    except OSError as exc:
        raise CertificateError(f"cannot read the mesh certificate files: {exc}") from None
    return bundle_from_pem(chain, key, trust)


def fetch(settings: Tls) -> Bundle:
    if settings.issuer is not None:
        return from_issuer(settings.issuer)
    return from_files(settings.files)  # type: ignore[arg-type]


def main() -> None:
    try:
        bundle = fetch(Tls.model_validate_json(sys.stdin.read()))
    except CertificateError as exc:
        sys.exit(str(exc))
    sys.stdout.write(encode(bundle))


if __name__ == "__main__":
    main()
