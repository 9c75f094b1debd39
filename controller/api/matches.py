"""Request matching for A/B routes and service routes: a subset of Istio's HTTPMatchRequest."""

from __future__ import annotations

import re

from pydantic import model_validator

from controller.api.base import Model
from controller.api.problems import raise_if_any
from controller.api.ranges import Port


class StringMatch(Model):
    """Exactly one of the four; `regex` must compile (the bundled proxy matches with Python's `re`)."""

    exact: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StringMatch:
        given = [name for name in ("exact", "prefix", "suffix", "regex") if getattr(self, name) is not None]
        if len(given) != 1:
            got = f" (got {' and '.join(given)})" if given else ""
            raise ValueError(f"set exactly one of exact, prefix, suffix, regex{got}")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as error:
                raise_if_any([(("regex",), f"not a valid regular expression: {error}")])
        return self


class HTTPMatchRequest(Model):
    """One A/B match (Istio HTTPMatchRequest subset). Several entries are OR-ed; fields in one are AND-ed."""

    name: str | None = None
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None
    query_params: dict[str, StringMatch] | None = None
    port: Port | None = None
    source_labels: dict[str, str] | None = None
    source_namespace: str | None = None
    gateways: list[str] | None = None
    ignore_uri_case: bool | None = None
    without_headers: dict[str, StringMatch] | None = None


