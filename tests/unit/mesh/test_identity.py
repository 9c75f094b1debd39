"""The mesh CA: root and leaf shape, the SPIFFE SAN, lifetimes, and who gets a certificate for what."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesh import spiffe
from mesh.identity import (
    LEAF_LIFETIME,
    CertificateAuthority,
    IssuanceRefused,
    Issuer,
    identity_of,
)
from mesh.proxy.certs_helper import bundle_from_pem, key_and_csr

NOW = 1_800_000_000.0


class Reviewer:
    """Accepts exactly the tokens it knows: token -> (namespace, ServiceAccount)."""

    def __init__(self, known: dict[str, tuple[str, str]]) -> None:
        self.known = known

    def review(self, token: str) -> tuple[str, str]:
        if token not in self.known:
            raise IssuanceRefused(401, "the token was refused by the apiserver: invalid bearer token")
        return self.known[token]


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate("cluster.local", now=NOW)


def issuer(authority: CertificateAuthority, lifetime: float = LEAF_LIFETIME) -> Issuer:
    return Issuer(authority, Reviewer({"web-token": ("shop", "web")}), "cluster.local", lifetime, lambda: NOW)


def leaf_of(chain: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificates(chain)[0]


def test_root_is_a_p256_ca_kept_ten_years(authority: CertificateAuthority) -> None:
    root = authority.cert
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    years = (root.not_valid_after_utc - root.not_valid_before_utc).days / 365
    assert 9.9 < years < 10.1
    assert authority.root == root and authority.chain == [root]


def test_a_leaf_names_only_the_token_identity_for_24_hours(authority: CertificateAuthority) -> None:
    key_pem, csr_pem = key_and_csr()
    chain = issuer(authority).issue(csr_pem, "web-token")
    leaf, root = x509.load_pem_x509_certificates(chain)
    assert root == authority.cert
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(name.value) for name in sans] == ["spiffe://cluster.local/ns/shop/sa/web"]
    assert identity_of(leaf) == "spiffe://cluster.local/ns/shop/sa/web"
    assert leaf.not_valid_after_utc.timestamp() == NOW + LEAF_LIFETIME
    assert leaf.not_valid_before_utc.timestamp() == NOW - 20  # clock skew allowance
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    leaf.verify_directly_issued_by(authority.cert)
    key = serialization.load_pem_private_key(key_pem, None)
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]


def test_a_short_lifetime_is_backdated_by_a_tenth_at_most(authority: CertificateAuthority) -> None:
    _, csr_pem = key_and_csr()
    leaf = leaf_of(issuer(authority, lifetime=30).issue(csr_pem, "web-token"))
    assert leaf.not_valid_before_utc.timestamp() == NOW - 3
    assert leaf.not_valid_after_utc.timestamp() == NOW + 30


def test_a_leaf_never_outlives_its_ca() -> None:
    short = CertificateAuthority.generate(now=NOW, lifetime=3600)
    _, csr_pem = key_and_csr()
    leaf = leaf_of(issuer(short).issue(csr_pem, "web-token"))
    assert leaf.not_valid_after_utc == short.cert.not_valid_after_utc


def csr_asking_for(uri: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def test_a_csr_naming_its_own_identity_is_signed(authority: CertificateAuthority) -> None:
    chain = issuer(authority).issue(csr_asking_for("spiffe://cluster.local/ns/shop/sa/web"), "web-token")
    assert identity_of(leaf_of(chain)) == "spiffe://cluster.local/ns/shop/sa/web"


@pytest.mark.parametrize(
    ("csr", "token", "status", "says"),
    [
        (csr_asking_for("spiffe://cluster.local/ns/shop/sa/admin"), "web-token", 403, "also asks for"),
        (key_and_csr()[1], "stolen", 401, "refused by the apiserver"),
        (key_and_csr()[1], "", 401, "Bearer"),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\nxx\n-----END CERTIFICATE REQUEST-----\n",
            "web-token",
            400,
            "PEM",
        ),
    ],
    ids=["other-identity", "bad-token", "no-token", "garbage"],
)
def test_refusals(authority: CertificateAuthority, csr: bytes, token: str, status: int, says: str) -> None:
    with pytest.raises(IssuanceRefused) as refused:
        issuer(authority).issue(csr, token)
    assert refused.value.status == status
    assert says in str(refused.value)


def test_weak_keys_are_refused(authority: CertificateAuthority) -> None:
    key = rsa.generate_private_key(65537, 1024)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(IssuanceRefused, match="RSA of 2048"):
        issuer(authority).issue(csr, "web-token")


def test_the_http_handler_wants_a_bearer_token_and_answers_pem_or_json(
    authority: CertificateAuthority,
) -> None:
    _, csr_pem = key_and_csr()
    status, content_type, body = issuer(authority).handle(csr_pem, "Bearer web-token")
    assert (status, content_type) == (200, "application/x-pem-file")
    assert body.count(b"BEGIN CERTIFICATE") == 2
    status, content_type, body = issuer(authority).handle(csr_pem, "Basic d2ViOng=")
    assert (status, content_type) == (401, "application/json")
    assert "Bearer" in json.loads(body)["error"]


def test_an_external_ca_signs_with_its_issuer_and_hands_out_the_root() -> None:
    root = CertificateAuthority.generate(now=NOW)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cert-manager issuer")])
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.cert.subject)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.fromtimestamp(NOW - 60, datetime.UTC))
        .not_valid_after(datetime.datetime.fromtimestamp(NOW + 365 * 86400, datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    external = CertificateAuthority.from_pem(
        intermediate.public_bytes(pem),
        intermediate_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        root.cert.public_bytes(pem),
    )
    key_pem, csr_pem = key_and_csr()
    chain = issuer(external).issue(csr_pem, "web-token")
    leaf, middle, anchor = x509.load_pem_x509_certificates(chain)
    assert (middle, anchor) == (intermediate, root.cert)
    leaf.verify_directly_issued_by(intermediate)
    bundle = bundle_from_pem(chain, key_pem)
    assert bundle.identity == "spiffe://cluster.local/ns/shop/sa/web"
    assert x509.load_pem_x509_certificate(bundle.trust_pem) == root.cert
    data = external.secret_data()
    assert CertificateAuthority.from_pem(
        *(base64.b64decode(data[k]) for k in ("tls.crt", "tls.key", "ca.crt"))
    )


def test_a_key_that_is_not_the_certificates_is_refused(authority: CertificateAuthority) -> None:
    other = CertificateAuthority.generate(now=NOW)
    data = other.secret_data()
    with pytest.raises(ValueError, match="does not belong"):
        CertificateAuthority.from_pem(
            authority.cert.public_bytes(serialization.Encoding.PEM), base64.b64decode(data["tls.key"])
        )


@pytest.mark.parametrize(
    "bad", ["spiffe://cluster.local/ns/shop", "https://cluster.local/ns/a/sa/b", "spiffe://x/ns/A/sa/b"]
)
def test_spiffe_ids_have_one_shape(bad: str) -> None:
    with pytest.raises(ValueError, match="not a workload identity"):
        spiffe.parse(bad)
    assert spiffe.parse("spiffe://td.example/ns/shop/sa/web") == ("td.example", "shop", "web")


def test_the_aiohttp_mount_answers_like_the_handler(authority: CertificateAuthority) -> None:
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from mesh.identity import ISSUE_PATH, aiohttp_handler

    app = web.Application()
    app.router.add_post(ISSUE_PATH, aiohttp_handler(issuer(authority)))

    async def exchange() -> list[tuple[int, str, bytes]]:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            answers = []
            for token in ("web-token", "stolen"):
                response = await client.post(
                    ISSUE_PATH, data=key_and_csr()[1], headers={"Authorization": f"Bearer {token}"}
                )
                answers.append((response.status, response.content_type, await response.read()))
            return answers

    (ok, ok_type, chain), (refused, refused_type, _) = asyncio.run(exchange())
    assert (ok, ok_type, refused, refused_type) == (200, "application/x-pem-file", 401, "application/json")
    assert identity_of(leaf_of(chain)) == "spiffe://cluster.local/ns/shop/sa/web"
