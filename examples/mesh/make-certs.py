"""Issue mesh certificates into a folder from a throw-away local CA, for trying mTLS without a cluster.

    .venv/bin/python examples/mesh/make-certs.py /tmp/sluice-mesh shop/api shop/web jobs/batch

writes ca.crt and, per NAMESPACE/SERVICEACCOUNT, NAME.crt (leaf + CA) and NAME.key, valid 24 h, with the
SPIFFE URI SAN spiffe://cluster.local/ns/NAMESPACE/sa/NAME. In a cluster the proxies get theirs from
the control plane's issuer instead (docs/mesh-security.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mesh import spiffe
from mesh.identity import CertificateAuthority
from mesh.proxy.certs_helper import key_and_csr


def main(folder: Path, accounts: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.generate()
    (folder / "ca.crt").write_bytes(ca.root.public_bytes(Encoding.PEM))
    for account in accounts:
        namespace, _, name = account.rpartition("/")
        uri = spiffe.Identity(spiffe.DEFAULT_TRUST_DOMAIN, namespace or "default", name).uri
        key_pem, csr_pem = key_and_csr()
        leaf = ca.issue(x509.load_pem_x509_csr(csr_pem), uri, time.time())
        (folder / f"{name}.crt").write_bytes(ca.chain_pem(leaf))
        key = folder / f"{name}.key"
        key.touch(0o600)
        key.write_bytes(key_pem)
        print(f"{folder / name}.crt  {uri}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2:])
