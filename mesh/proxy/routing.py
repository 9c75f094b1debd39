"""The routing table compiled from config: which route a request takes and which backend serves it.

Matching runs per request, so the config is compiled once into closures over pre-lowered names and
pre-compiled regexes; a weighted split is a cumulative-weight table scanned in order; sticky sessions
honour a cookie naming a backend that still has weight.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from random import random

from mesh.proxy.config import Match, Route, Service, StringMatch


class RequestFacts:
    """The parts of a request routing looks at, lowered and parsed once, lazily."""


    def __init__(self, method: str, url: bytes, headers: dict[bytes, bytes]) -> None:
        self.method = method
        self.url = url
        self.headers = headers  # lower-cased names
        self._cookies: dict[str, str] | None = None

    @property
    def path(self) -> str:
        return self.url.split(b"?", 1)[0].decode("latin-1")

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get(b"cookie", b""))
        return self._cookies


def parse_cookies(raw: bytes) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in raw.decode("latin-1").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            cookies.setdefault(name, value.strip('"'))
    return cookies


def _string_test(spec: StringMatch) -> Callable[[str | None], bool]:
    if spec.exact is not None:
        exact = spec.exact
        return lambda value: value == exact
    if spec.prefix is not None:
        prefix = spec.prefix
        return lambda value: value is not None and value.startswith(prefix)
    pattern = re.compile(spec.regex or "")
    return lambda value: value is not None and pattern.fullmatch(value) is not None


def _header_test(key: bytes, spec: StringMatch) -> Callable[[RequestFacts], bool]:
    """Exact and prefix tests compare the raw bytes (no decode per request); a regex sees latin-1 text."""
    if spec.exact is not None or spec.prefix is not None:
        text = spec.exact if spec.exact is not None else spec.prefix
        try:
            wanted = text.encode("latin-1")  # type: ignore[union-attr]
        except UnicodeEncodeError:  # no header value decodes to this text: the test never holds
            return lambda facts: False
        if spec.exact is not None:
            return lambda facts: facts.headers.get(key) == wanted

        def starts_with(facts: RequestFacts) -> bool:
            raw = facts.headers.get(key)
            return raw is not None and raw.startswith(wanted)

        return starts_with
    text_test = _string_test(spec)

    def regex_matches(facts: RequestFacts) -> bool:
        raw = facts.headers.get(key)
        return text_test(None if raw is None else raw.decode("latin-1"))

    return regex_matches


def _compile_match(match: Match) -> Callable[[RequestFacts], bool]:
    tests: list[Callable[[RequestFacts], bool]] = []
    if match.method:
        methods = frozenset(method.upper() for method in match.method)
        tests.append(lambda facts: facts.method in methods)
    if match.path is not None:
        path_test = _string_test(match.path)
        tests.append(lambda facts: path_test(facts.path))
    for name, spec in match.headers.items():
        tests.append(_header_test(name.lower().encode("latin-1"), spec))
    for name, spec in match.cookies.items():
        cookie_test = _string_test(spec)
        tests.append(lambda facts, name=name, test=cookie_test: test(facts.cookies.get(name)))
    if len(tests) == 1:
        return tests[0]

    def all_hold(facts: RequestFacts) -> bool:
        for test in tests:  # noqa: SIM110 - a generator costs more, and this runs per request
            if not test(facts):
                return False
        return True

    return all_hold


class WeightedSplit:
    """Backends with their weights; `pick` draws one in proportion, honouring a sticky choice."""


    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = dict(weights)
        self.names = [name for name, weight in weights.items() if weight > 0]
        self.bounds: list[int] = []
        running = 0
        for name in self.names:
            running += weights[name]
            self.bounds.append(running)
        self.total = running
        self.active = frozenset(self.names)

    def pick(self, sticky_choice: str | None = None) -> str:
        if sticky_choice is not None and sticky_choice in self.active:
            return sticky_choice
        if len(self.names) == 1:
            return self.names[0]
        draw = random() * self.total
        index = 0
        for bound in self.bounds:  # a handful of backends: a scan costs less than a call to bisect
            if draw < bound:
                break
            index += 1
        return self.names[index]

    @property
    def is_canary(self) -> bool:
        """More than one backend gets traffic: the moment sticky sessions matter."""
        return len(self.names) > 1


class CompiledRoute:
    def __init__(
        self, name: str, split: WeightedSplit, matches: list[Callable[[RequestFacts], bool]] | None = None
    ) -> None:
        self.name = name
        self.split = split
        self.matches = matches or []

    def applies_to(self, facts: RequestFacts) -> bool:
        for match in self.matches:  # noqa: SIM110 - a generator costs more, and this runs per request
            if match(facts):
                return True
        return False


def compile_route(route: Route) -> CompiledRoute:
    return CompiledRoute(route.name, WeightedSplit(route.split), [_compile_match(m) for m in route.match])


class RouteTable:
    """Ordered match routes, then the service's default split."""


    def __init__(self, service: Service) -> None:
        self.routes = [compile_route(route) for route in service.routes]
        self.default = CompiledRoute("default", WeightedSplit(service.split))

    def select(self, facts: RequestFacts | None) -> CompiledRoute:
        if facts is not None:
            for route in self.routes:
                if route.applies_to(facts):
                    return route
        return self.default

    @property
    def needs_facts(self) -> bool:
        return bool(self.routes)
