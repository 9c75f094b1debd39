"""Who may read a gateway's config: a proxy showing a ServiceAccount token of the namespace it asks for.

A node's config names the namespace's Services, pod addresses and access rules, so with
`--require-proxy-token` the config API wants `Authorization: Bearer <ServiceAccount token>` (the gateways'
projected token, the one they also get certificates with) and serves a node of namespace NS only to a
token of a ServiceAccount in NS. The token is checked with the CA's TokenReview (mesh/identity.py), and
the answer kept for a minute (a refusal for five seconds) so that a long-polling gateway costs the
apiserver one review a minute, not one per poll. Like kube-rbac-proxy's cache, this means a deleted
ServiceAccount keeps reading for up to that minute.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from mesh.identity import IssuanceRefused, TokenReviewer

ACCEPTED_FOR = 60.0
REFUSED_FOR = 5.0
MAX_ENTRIES = 4096


class CachedReviews:
    """A TokenReviewer whose answers (and refusals) are kept briefly, by the token's SHA-256."""

    def __init__(
        self,
        reviewer: TokenReviewer,
        accepted_for: float = ACCEPTED_FOR,
        refused_for: float = REFUSED_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reviewer = reviewer
        self.accepted_for = accepted_for
        self.refused_for = refused_for
        self.clock = clock
        self.reviews = 0  # asked of the apiserver
        self._answers: dict[bytes, tuple[float, tuple[str, str] | IssuanceRefused]] = {}
        self._lock = threading.Lock()

    def review(self, token: str) -> tuple[str, str]:
        """(namespace, ServiceAccount) of `token`; IssuanceRefused(401/403) when it proves none."""
        key = hashlib.sha256(token.encode()).digest()
        now = self.clock()
        with self._lock:
            until, answer = self._answers.get(key, (0.0, None))  # type: ignore[arg-type]
        if answer is None or until <= now:
            self.reviews += 1
            try:
                answer = self.reviewer.review(token)  # other errors (apiserver away) are not kept
                until = now + self.accepted_for
            except IssuanceRefused as exc:
                answer, until = exc, now + self.refused_for
            with self._lock:
                if len(self._answers) >= MAX_ENTRIES:
                    self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
                    if len(self._answers) >= MAX_ENTRIES:
                        self._answers.clear()
                self._answers[key] = (until, answer)
        if isinstance(answer, IssuanceRefused):
            raise IssuanceRefused(answer.status, str(answer))
        return answer


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authorize_node(reviews: CachedReviews, authorization: str | None, namespace: str) -> tuple[str, str]:
    """The ServiceAccount asking for a node of `namespace`; IssuanceRefused (401, 403) otherwise."""
    token = bearer_token(authorization)
    if not token:
        raise IssuanceRefused(401, "send the proxy's ServiceAccount token as `Authorization: Bearer TOKEN`")
    account = reviews.review(token)
    if account[0] != namespace:
        raise IssuanceRefused(
            403, f"ServiceAccount {account[0]}/{account[1]} may not read the config of namespace {namespace}"
        )
    return account
