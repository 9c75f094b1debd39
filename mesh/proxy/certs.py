"""The proxy's certificate: fetched from the mesh CA (or read from files) and renewed at 2/3 of its life.

The proxy makes a fresh ECDSA P-256 key for each certificate, in memory; only the CSR and its
ServiceAccount token leave the process (mesh/identity.py checks the token with a TokenReview). The token
file is read again for every request, because projected tokens are rotated by the kubelet.

Renewal at two thirds of the lifetime (8 h before expiry for 24 h certificates) leaves a third of it for
the CA to be away: failures are retried with backoff, never later than the certificate's end. The files
source (cert-manager's csi-driver, a test) is re-read on the same schedule. `Renewer` takes its clock and
sleep as arguments so the timing is tested without waiting.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh.identity import identity_of
from mesh.proxy.config import Tls, TlsFiles, TlsIssuer
from mesh.proxy.tls import Bundle

RENEW_AT = 2 / 3
RETRY_FIRST, RETRY_MAX = 1.0, 30.0
MIN_RENEWAL_INTERVAL = 1.0  # a certificate that is already old (files) is re-read at most this often
FETCH_TIMEOUT = 10.0


class CertificateError(Exception):
    """No certificate could be had; the message says from where and why."""


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


class Source(Protocol):
    def fetch(self) -> Bundle:
        """A current certificate (blocking); CertificateError if there is none to be had."""
        ...


class IssuerSource:
    """POSTs a CSR with the ServiceAccount token to the mesh CA's issuing endpoint."""

    def __init__(self, settings: TlsIssuer) -> None:
        self.settings = settings

    def fetch(self) -> Bundle:
        settings = self.settings
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


class FileSource:
    """Reads a certificate, key and trust anchors that something else keeps current."""

    def __init__(self, settings: TlsFiles) -> None:
        self.settings = settings

    def fetch(self) -> Bundle:
        try:
            chain, key, trust = (
                Path(p).read_bytes() for p in (self.settings.cert, self.settings.key, self.settings.ca)
            )
        except OSError as exc:
            raise CertificateError(f"cannot read the mesh certificate files: {exc}") from None
        return bundle_from_pem(chain, key, trust)


def source_for(settings: Tls) -> Source:
    if settings.issuer is not None:
        return IssuerSource(settings.issuer)
    return FileSource(settings.files)  # type: ignore[arg-type]


def renewal_delay(bundle: Bundle, now: float) -> float:
    """Seconds from `now` until two thirds of the bundle's lifetime have passed."""
    return max(0.0, bundle.not_before + (bundle.not_after - bundle.not_before) * RENEW_AT - now)


def retry_delay(bundle: Bundle, now: float, failures: int) -> float:
    """Backoff after `failures` failed renewals: 1 s doubling to 30 s, and never past the expiry."""
    backoff = min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, failures - 1))
    return max(RETRY_FIRST, min(backoff, bundle.not_after - now))


class Renewer:
    """Keeps a certificate current: `fetch` again at 2/3 of the lifetime, hand each new one to `install`."""

    def __init__(
        self,
        source: Source,
        install: Callable[[Bundle], None],
        log: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.source = source
        self.install = install
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.renewals = 0

    async def fetch(self) -> Bundle:
        return await asyncio.to_thread(self.source.fetch)  # key generation and HTTP stay off the loop

    async def run(self, bundle: Bundle) -> None:
        """Renew `bundle` (already installed) forever; cancel to stop."""
        failures = 0
        delay = max(MIN_RENEWAL_INTERVAL, renewal_delay(bundle, self.clock()))
        while True:
            await self.sleep(delay)
            try:
                fresh = await self.fetch()
                self.install(fresh)
            except (CertificateError, ssl.SSLError, OSError) as exc:
                failures += 1
                delay = retry_delay(bundle, self.clock(), failures)
                expires = datetime.datetime.fromtimestamp(bundle.not_after, datetime.UTC).isoformat()
                self.log(
                    f"certificate renewal failed ({exc}); retrying in {delay:.0f}s, valid until {expires}"
                )
                continue
            failures = 0
            bundle = fresh
            self.renewals += 1
            delay = max(MIN_RENEWAL_INTERVAL, renewal_delay(bundle, self.clock()))
