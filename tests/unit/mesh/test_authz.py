"""TrafficTarget rules: open until a target names the destination, then only listed sources and routes."""

from __future__ import annotations

import pytest

from mesh.proxy.authz import compile_authorizer
from mesh.proxy.config import ConfigError, parse_config

API = "spiffe://cluster.local/ns/shop/sa/api"
WEB = "spiffe://cluster.local/ns/shop/sa/web"
BATCH = "spiffe://cluster.local/ns/jobs/sa/batch"
OTHER_DOMAIN_WEB = "spiffe://other.example/ns/shop/sa/web"


def targets(*items: dict) -> list:
    base = {
        "tls": {"files": {"cert": "c", "key": "k", "ca": "a"}},
        "traffic_targets": list(items),
    }
    return parse_config(base).traffic_targets


def target(sources: list[dict], rules: list[dict] | None = None, destination: str = "api") -> dict:
    return {
        "name": f"to-{destination}",
        "namespace": "shop",
        "destination": {"kind": "ServiceAccount", "name": destination, "namespace": "shop"},
        "sources": sources,
        **({"rules": rules} if rules is not None else {}),
    }


def ask(authorizer, peer: str | None, method: str = "GET", url: bytes = b"/", **headers: str) -> str | None:
    lowered = {name.replace("_", "-").encode(): value.encode() for name, value in headers.items()}
    return authorizer.denies(peer, method, url, lowered)


def test_no_target_naming_the_destination_leaves_it_open() -> None:
    rules = targets(target([{"name": "web", "namespace": "shop"}], destination="db"))
    assert compile_authorizer(rules, API) is None
    assert compile_authorizer([], API) is None


def test_only_listed_sources_pass_once_a_target_names_the_destination() -> None:
    authorizer = compile_authorizer(targets(target([{"name": "web", "namespace": "shop"}])), API)
    assert ask(authorizer, WEB) is None
    assert ask(authorizer, BATCH) == f"access denied: no TrafficTarget allows {BATCH} to reach {API}"
    assert "without a mesh certificate" in ask(authorizer, None)  # type: ignore[operator]
    assert ask(authorizer, OTHER_DOMAIN_WEB) is not None  # another trust domain is another identity


def test_route_group_matches_limit_what_a_source_may_do() -> None:
    reads = {
        "name": "api-reads",
        "matches": [
            {"path": {"regex": "/products(/.*)?"}, "method": ["GET"]},
            {"headers": {"x-debug": {"exact": "1"}}},
        ],
    }
    authorizer = compile_authorizer(
        targets(
            target([{"name": "web", "namespace": "shop"}], rules=[reads]),
            target([{"name": "batch", "namespace": "jobs"}], rules=[{"name": "everything"}]),
        ),
        API,
    )
    assert ask(authorizer, WEB, "GET", b"/products/7?x=1") is None
    assert ask(authorizer, WEB, "POST", b"/anything", x_debug="1") is None
    reason = ask(authorizer, WEB, "DELETE", b"/products/7?x=1")
    assert (
        reason == f"access denied: {WEB} may reach {API}, but no TrafficTarget rule allows DELETE /products/7"
    )
    assert ask(authorizer, BATCH, "DELETE", b"/products/7") is None  # a rule without matches allows all


def test_targets_add_up() -> None:
    limited = target([{"name": "web", "namespace": "shop"}], rules=[{"matches": [{"method": ["GET"]}]}])
    more = target([{"name": "web", "namespace": "shop"}], rules=[{"matches": [{"method": ["POST"]}]}])
    authorizer = compile_authorizer(targets(limited, more), API)
    assert ask(authorizer, WEB, "GET") is None and ask(authorizer, WEB, "POST") is None
    assert ask(authorizer, WEB, "PUT") is not None
    unlimited = target([{"name": "web", "namespace": "shop"}])
    assert ask(compile_authorizer(targets(limited, unlimited), API), WEB, "PUT") is None
    assert ask(compile_authorizer(targets(unlimited, limited), API), WEB, "PUT") is None


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"traffic_targets": [{"name": "t", "destination": {"name": "api"}, "sources": []}]}, "at least 1"),
        ({"tls": {}}, "exactly one of issuer, files"),
        (
            {
                "services": [
                    {
                        "name": "a",
                        "port": 1,
                        "tls": True,
                        "backends": {"b": {"endpoints": ["h:1"]}},
                        "split": {"b": 1},
                    }
                ]
            },
            "needs the top-level tls section",
        ),
        (
            {
                "services": [
                    {
                        "name": "a",
                        "port": 1,
                        "split": {"b": 1},
                        "backends": {"b": {"endpoints": ["h:1"], "identity": "spiffe://x/ns/a/sa/b"}},
                    }
                ]
            },
            "backends.b.identity: mTLS to a peer needs the top-level tls section",
        ),
        (
            {
                "services": [
                    {
                        "name": "a",
                        "port": 1,
                        "split": {"b": 1},
                        "backends": {"b": {"endpoints": ["h:1"], "identity": "api.shop"}},
                    }
                ]
            },
            "not a workload identity",
        ),
    ],
)
def test_config_mistakes_name_the_field(config: dict, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(config)


def test_one_listener_is_either_mtls_or_plain() -> None:
    service = {"port": 7000, "backends": {"b": {"endpoints": ["h:1"]}}, "split": {"b": 1}}
    with pytest.raises(ConfigError, match="one listener is either mTLS or plain"):
        parse_config(
            {
                "tls": {"files": {"cert": "c", "key": "k", "ca": "a"}},
                "services": [
                    {**service, "name": "a", "hosts": ["a"], "tls": True},
                    {**service, "name": "b", "hosts": ["b"]},
                ],
            }
        )
