"""TrafficTarget access control (SMI access.smi-spec.io v1alpha3) for a proxy's mTLS listeners.

SMI's model: an additive allow-list per destination ServiceAccount, enforced by the server side. As long
as no TrafficTarget names a destination, traffic to it is open; once one does, only the sources listed by
some target may reach it, and when that target has rules, only requests matching one of them (HTTPRouteGroup
matches, resolved by the control plane into the proxy's own match shape). Everything else is 403.

The destination is this proxy's own identity (the ServiceAccount in its certificate), as with a sidecar.
The table is compiled once per config into `source URI -> rules`, so a request costs one dict lookup, plus
the match closures of routing.py when the source is limited to some routes.
"""

from __future__ import annotations

from collections.abc import Callable

from mesh import spiffe
from mesh.proxy.config import TrafficTarget
from mesh.proxy.routing import RequestFacts
from mesh.proxy.routing import _compile_match as compile_match

Matcher = Callable[[RequestFacts], bool]


class Authorizer:
    """Who may reach `destination`: source URI -> None (every request) or the request matchers allowed."""

    def __init__(self, destination: spiffe.Identity, allowed: dict[str, list[Matcher] | None]) -> None:
        self.destination = destination
        self.allowed = allowed

    def denies(self, peer: str | None, method: str, url: bytes, headers: dict[bytes, bytes]) -> str | None:
        """None when the request may pass, otherwise the reason for the 403."""
        if peer not in self.allowed:
            who = peer or "a client without a mesh certificate"
            return f"access denied: no TrafficTarget allows {who} to reach {self.destination}"
        matchers = self.allowed[peer]
        if matchers is None:
            return None
        facts = RequestFacts(method, url, headers)
        if any(matcher(facts) for matcher in matchers):
            return None
        path = url.split(b"?", 1)[0].decode("latin-1")
        return (
            f"access denied: {peer} may reach {self.destination}, "
            f"but no TrafficTarget rule allows {method} {path}"
        )


def compile_authorizer(targets: list[TrafficTarget], own: str) -> Authorizer | None:
    """The rules for `own` (this proxy's SPIFFE URI), or None when no target names it (open)."""
    me = spiffe.parse(own)
    allowed: dict[str, list[Matcher] | None] = {}
    named = False
    for target in targets:
        if (target.destination.namespace, target.destination.name) != (me.namespace, me.name):
            continue
        named = True
        matchers: list[Matcher] | None = []
        for rule in target.rules:
            if not rule.matches:
                matchers = None  # a rule without matches allows everything
                break
            matchers.extend(compile_match(match) for match in rule.matches)  # type: ignore[union-attr]
        if not target.rules:
            matchers = None
        for source in target.sources:
            uri = spiffe.Identity(me.trust_domain, source.namespace, source.name).uri
            if uri in allowed and allowed[uri] is None:
                continue
            if matchers is None:
                allowed[uri] = None
            else:
                allowed[uri] = [*(allowed.get(uri) or []), *matchers]
    return Authorizer(me, allowed) if named else None
