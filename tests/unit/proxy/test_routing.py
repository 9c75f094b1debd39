"""Route selection and weighted picks, without sockets."""

from __future__ import annotations

import random
from collections import Counter

from mesh.proxy.config import parse_config
from mesh.proxy.routing import RequestFacts, RouteTable, WeightedSplit, parse_cookies


def table(routes):
    config = parse_config(
        {
            "services": [
                {
                    "name": "s",
                    "port": 1,
                    "backends": {"a": {"endpoints": ["127.0.0.1:1"]}, "b": {"endpoints": ["127.0.0.1:2"]}},
                    "split": {"a": 1},
                    "routes": routes,
                }
            ]
        }
    )
    return RouteTable(config.services[0])


def facts(method="GET", url=b"/", **headers):
    return RequestFacts(method, url, {k.replace("_", "-").encode(): v.encode() for k, v in headers.items()})


def test_first_matching_route_wins_and_conditions_within_a_match_are_anded():
    routes = table(
        [
            {
                "name": "both",
                "match": [{"headers": {"x-a": {"exact": "1"}}, "path": {"regex": "/v[0-9]+/.*"}}],
                "split": {"b": 1},
            },
            {
                "name": "cookie",
                "match": [{"cookies": {"beta": {"prefix": "y"}}}, {"method": ["delete"]}],
                "split": {"b": 1},
            },
        ]
    )
    assert routes.select(facts(url=b"/v2/x?q=1", x_a="1")).name == "both"
    assert routes.select(facts(url=b"/v2/x", x_a="2")).name == "default"
    assert routes.select(facts(url=b"/other", x_a="1")).name == "default"
    assert routes.select(facts(cookie="a=b; beta=yes")).name == "cookie"
    assert routes.select(facts("DELETE")).name == "cookie"
    assert routes.select(None).name == "default"


def test_weighted_split_draws_in_proportion_and_honours_sticky_choices():
    random.seed(7)
    split = WeightedSplit({"a": 75, "b": 25, "c": 0})
    drawn = Counter(split.pick() for _ in range(20_000))
    assert set(drawn) == {"a", "b"} and abs(drawn["b"] / 20_000 - 0.25) < 0.02
    assert split.pick("b") == "b" and split.pick("c") in {"a", "b"}  # no sticking to a weight-0 backend
    assert split.is_canary and not WeightedSplit({"a": 100, "b": 0}).is_canary


def test_cookie_parsing_tolerates_spaces_quotes_and_junk():
    assert parse_cookies(b' a=1; b="two" ;junk; c=') == {"a": "1", "b": "two", "c": ""}


def test_header_matches_compare_raw_values_and_never_match_an_absent_header():
    routes = table(
        [
            {"name": "exact", "match": [{"headers": {"x-user": {"exact": "ünïcode"}}}], "split": {"b": 1}},
            {"name": "prefix", "match": [{"headers": {"x-env": {"prefix": ""}}}], "split": {"b": 1}},
            {"name": "regex", "match": [{"headers": {"x-v": {"regex": "v[0-9]+"}}}], "split": {"b": 1}},
            {"name": "never", "match": [{"headers": {"x-z": {"exact": "☃"}}}], "split": {"b": 1}},
        ]
    )
    latin1 = RequestFacts("GET", b"/", {b"x-user": "ünïcode".encode("latin-1")})
    assert routes.select(latin1).name == "exact"
    assert routes.select(facts(x_user="unicode")).name == "default"
    assert routes.select(facts(x_env="")).name == "prefix"  # an empty prefix matches a present header...
    assert routes.select(facts()).name == "default"  # ...and never an absent one
    assert routes.select(facts(x_v="v12")).name == "regex"
    assert routes.select(facts(x_v="v12x")).name == "default"
    assert routes.select(RequestFacts("GET", b"/", {b"x-z": "☃".encode()})).name == "default"
