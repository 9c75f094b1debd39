"""SPIFFE-style workload identities: `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`.

The CA writes these into certificates, the proxy reads them back from its peers and compares them with
TrafficTarget sources. One small module both sides import, so the format lives in one place and the proxy
does not have to load `cryptography` to parse a name.
"""

from __future__ import annotations

import re
from typing import NamedTuple

DEFAULT_TRUST_DOMAIN = "cluster.local"

# DNS-1123 labels for namespace and ServiceAccount names; a trust domain is a lower-case host name.
_SPIFFE = re.compile(
    r"^spiffe://(?P<domain>[a-z0-9.\-]+)/ns/(?P<namespace>[a-z0-9][a-z0-9\-]*)"
    r"/sa/(?P<name>[a-z0-9][a-z0-9.\-]*)$"
)


class Identity(NamedTuple):
    """A ServiceAccount in a trust domain."""

    trust_domain: str
    namespace: str
    name: str

    @property
    def uri(self) -> str:
        return f"spiffe://{self.trust_domain}/ns/{self.namespace}/sa/{self.name}"

    def __str__(self) -> str:
        return self.uri


def parse(uri: str) -> Identity:
    """The identity named by `uri`; ValueError if it is not `spiffe://DOMAIN/ns/NS/sa/NAME`."""
    found = _SPIFFE.match(uri)
    if found is None:
        raise ValueError(f"{uri!r} is not a workload identity (spiffe://DOMAIN/ns/NAMESPACE/sa/NAME)")
    return Identity(found["domain"], found["namespace"], found["name"])


def check_uri(uri: str) -> str:
    """Pydantic validator: `uri` unchanged if it parses."""
    parse(uri)
    return uri
