"""The config API's proxy authentication: cached TokenReviews, namespace checks, the proxy's bearer token.

The apiserver's side (a real TokenReview) is tests/integration/mesh/test_backend_identity.py; here the
reviewer is a table, so caching is counted on a fake clock.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from mesh.control.auth import CachedReviews, authorize_node
from mesh.control.server import ConfigServer
from mesh.identity import IssuanceRefused
from mesh.proxy.app import Proxy
from mesh.proxy.config import ProxyConfig
from mesh.proxy.config_watch import ConfigWatch, http_request
from tests.harness.net import free_port
from tests.unit.mesh_control.test_config_api import objects


class Reviewer:
    """Tokens by name: 'shop-gw' is ServiceAccount shop/sluice-proxy, anything else is refused."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def review(self, token: str) -> tuple[str, str]:
        self.asked.append(token)
        if token == "shop-gw":
            return "shop", "sluice-proxy"
        raise IssuanceRefused(401, "the token was refused by the apiserver: invalid")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_answers_are_kept_a_minute_and_refusals_five_seconds():
    reviewer, clock = Reviewer(), Clock()
    reviews = CachedReviews(reviewer, clock=clock)
    for _ in range(3):
        assert reviews.review("shop-gw") == ("shop", "sluice-proxy")
        with pytest.raises(IssuanceRefused):
            reviews.review("stolen")
    assert reviewer.asked == ["shop-gw", "stolen"]
    clock.now += 5.0
    with pytest.raises(IssuanceRefused):
        reviews.review("stolen")
    reviews.review("shop-gw")
    assert reviewer.asked == ["shop-gw", "stolen", "stolen"]
    clock.now += 55.0
    reviews.review("shop-gw")
    assert reviewer.asked[-1] == "shop-gw" and reviews.reviews == 4


@pytest.mark.parametrize(
    ("authorization", "namespace", "status"),
    [
        (None, "shop", 401),
        ("Basic c2hvcA==", "shop", 401),
        ("Bearer stolen", "shop", 401),
        ("Bearer shop-gw", "kube-system", 403),
        ("bearer shop-gw", "shop", 200),
    ],
)
def test_a_node_s_config_goes_only_to_a_service_account_of_its_namespace(authorization, namespace, status):
    reviews = CachedReviews(Reviewer())
    if status == 200:
        assert authorize_node(reviews, authorization, namespace) == ("shop", "sluice-proxy")
        return
    with pytest.raises(IssuanceRefused) as refused:
        authorize_node(reviews, authorization, namespace)
    assert refused.value.status == status


@pytest.mark.parametrize("given_as", ["environment", "--token-file"])
def test_a_proxy_shows_its_token_and_the_api_answers_401_without_it(tmp_path: Path, monkeypatch, given_as):
    async def scenario() -> None:
        server = ConfigServer(lambda: objects(0), reviews=CachedReviews(Reviewer()))
        server.mark_ready()
        runner = web.AppRunner(server.app())
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}"
        proxy = Proxy(ProxyConfig(), admin_port=None)
        await proxy.start()
        flag = str(token) if given_as == "--token-file" else None
        watch = ConfigWatch(proxy, url, "shop/gw-1", "127.0.0.1", wait=2, max_backoff=0.5, token_file=flag)
        try:
            status, body = await http_request(url, "/v1/config?node=shop/gw-1&version=0&wait=0", 5)
            assert status == 401 and "Bearer" in json.loads(body)["error"]
            watch.start()
            await asyncio.wait_for(watch.synced.wait(), 10)
            assert [s.name for s in proxy.config.services] == ["podinfo"]
        finally:
            await watch.stop()
            await proxy.stop()
            await runner.cleanup()

    token = tmp_path / "token"
    token.write_text("shop-gw\n")
    if given_as == "environment":
        monkeypatch.setenv("SLUICE_CONTROL_PLANE_TOKEN_FILE", str(token))
    asyncio.run(scenario())
