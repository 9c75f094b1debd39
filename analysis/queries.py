"""Rendering metric queries (MetricTemplates and builtin templates) with Jinja2.

Flagger renders MetricTemplate queries with Go text/template, `missingkey=error`, exposing the values
as functions: `{{ namespace }}`, `{{ target }}`, `{{ variables.direction }}`. In Jinja2 the same text
reads the same names as variables, so Flagger templates work unchanged. StrictUndefined keeps Flagger's
"missing key is an error", and the error names the variable (`variables.direction`, not Jinja's
"'dict object' has no attribute ...") and the template it came from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2

from analysis.errors import MetricConfigError
from controller.api.canary import Canary, CanaryMetric

DEFAULT_INTERVAL = "1m"

# Why a variable is missing, when the canary itself explains it.
_HINTS = {
    "ingress": "the canary has no spec.ingressRef",
    "route": "the canary has no spec.routeRef",
}


class _Variables:
    """`templateVariables`, reachable only as `variables.key` / `variables['key']` (no dict methods)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def names(self) -> list[str]:
        return sorted(self._values)


class _NamedUndefined(jinja2.StrictUndefined):
    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, _Variables):
            return f"undefined template variable 'variables.{self._undefined_name}'"
        if self._undefined_obj is jinja2.utils.missing and self._undefined_name:
            hint = _HINTS.get(self._undefined_name)
            return f"undefined template variable {self._undefined_name!r}" + (f" ({hint})" if hint else "")
        return super()._undefined_message


_ENV = jinja2.Environment(undefined=_NamedUndefined, autoescape=False)


@functools.lru_cache(maxsize=512)
def _compile(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


def query_variables(canary: Canary, metric: CanaryMetric) -> dict[str, Any]:
    """The names a query may use, as Flagger defines them; `variables` are the metric's templateVariables."""
    spec = canary.spec
    values: dict[str, Any] = {
        "name": canary.metadata.name,
        "namespace": canary.metadata.namespace,
        "target": spec.target_ref.name,
        "service": spec.apex_name(),
        "interval": metric.interval or DEFAULT_INTERVAL,
        "variables": _Variables(metric.template_variables or {}),
    }
    if spec.ingress_ref is not None:
        values["ingress"] = spec.ingress_ref.name
    if spec.route_ref is not None:
        values["route"] = spec.route_ref.name
    return values


def render(text: str, variables: Mapping[str, Any], source: str) -> str:
    """`text` with the variables filled in; MetricConfigError naming `source` and the variable otherwise."""
    try:
        return _compile(text).render(variables)
    except jinja2.UndefinedError as exc:
        defined = sorted(k for k in variables if k != "variables")
        extra = variables.get("variables")
        if isinstance(extra, _Variables):
            defined += [f"variables.{k}" for k in extra.names()]
        raise MetricConfigError(f"{source}: {exc.message}; defined: {', '.join(defined)}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise MetricConfigError(f"{source}: syntax error on line {exc.lineno}: {exc.message}") from None
