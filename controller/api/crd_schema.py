"""CustomResourceDefinitions for Canary, MetricTemplate and AlertProvider, generated from the models.

The pydantic models are the one definition of the API; the CRDs are derived from them (`make crds`, a
test fails when the committed files drift), so the API server admits what local mode admits. Kubernetes
wants a *structural* OpenAPI v3 schema, which pydantic's JSON Schema is not: `$ref`s are inlined,
`anyOf [T, null]` becomes `nullable`, `int | str` becomes `x-kubernetes-int-or-string`, free-form maps
preserve unknown fields, and defaults are left out (a default written by the API server would become a
field the author "set", and Flagger's one-of rules count set fields). Range and duration checks that the
models make in validators are recovered as `minimum`/`maximum`/`pattern`, so a bad stepWeight is refused
at admission with its field path. Rules across fields stay in the models (the controller reports them).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from controller.api.alert_provider import AlertProvider
from controller.api.base import API_GROUP
from controller.api.base import Model as ApiModel
from controller.api.canary import Canary
from controller.api.metric_template import MetricTemplate

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DROP = ("title", "default", "additionalProperties", "const", "description")

# kind -> (plural, singular, short names, printer columns)
KINDS: dict[str, tuple[type[ApiModel], str, list[str], list[dict[str, Any]]]] = {
    "Canary": (
        Canary,
        "canaries",
        ["cn"],
        [
            {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
            {"name": "FailedChecks", "type": "integer", "jsonPath": ".status.failedChecks"},
            {"name": "Interval", "type": "string", "jsonPath": ".spec.analysis.interval"},
            {"name": "LastTransitionTime", "type": "string", "jsonPath": ".status.lastTransitionTime"},
            {"name": "Step", "type": "integer", "jsonPath": ".status.step", "priority": 1},
            {"name": "Provider", "type": "string", "jsonPath": ".spec.provider", "priority": 1},
            {"name": "Reason", "type": "string", "jsonPath": ".status.lastReason", "priority": 1},
        ],
    ),
    "MetricTemplate": (
        MetricTemplate,
        "metrictemplates",
        ["mt"],
        [
            {"name": "Provider", "type": "string", "jsonPath": ".spec.provider.type"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    ),
    "AlertProvider": (
        AlertProvider,
        "alertproviders",
        ["ap"],
        [
            {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    ),
}


class _WithValidatorBounds(GenerateJsonSchema):
    """Recover the bounds of controller.api.ranges and the duration syntax from their validators."""

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> dict[str, Any]:
        result = super().function_after_schema(schema)
        func = schema["function"]["function"]
        closure = inspect.getclosurevars(func).nonlocals
        if "low" in closure:
            result["minimum"] = closure["low"]
        if "high" in closure:
            result["maximum"] = closure["high"]
        if func.__module__ == "controller.api.durations":
            result["pattern"] = DURATION_PATTERN
        return result


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        return _structural({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        types = {o.get("type") for o in options}
        if len(options) == 1:
            merged = _structural({**rest, **options[0]}, defs)
        elif types == {"integer", "string"}:
            merged = {"x-kubernetes-int-or-string": True}
        else:
            merged = {"x-kubernetes-preserve-unknown-fields": True}
        if nullable:
            merged["nullable"] = True
        return merged
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            result[key] = {name: _structural(prop, defs) for name, prop in value.items()}
        else:
            result[key] = _structural(value, defs)
    extra = node.get("additionalProperties")
    if node.get("type") == "object" and "properties" not in node:
        if isinstance(extra, dict) and extra:
            result["additionalProperties"] = _structural(extra, defs)
        else:
            result["x-kubernetes-preserve-unknown-fields"] = True
    if "const" in node:
        result["enum"] = [node["const"]]
    if not node or node == {"additionalProperties": True}:
        result = {"x-kubernetes-preserve-unknown-fields": True}
    return result


def openapi_schema(model: type[ApiModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, schema_generator=_WithValidatorBounds)
    defs = raw.pop("$defs", {})
    schema = _structural(raw, defs)
    properties = schema["properties"]
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"type": "object"}
    schema["required"] = [name for name in schema.get("required", []) if name != "metadata"]
    return schema


def crd(kind: str) -> dict[str, Any]:
    model, plural, short_names, columns = KINDS[kind]
    version = model.model_fields["api_version"].default.split("/")[1]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{API_GROUP}"},
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["all", "sluice"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": copy.deepcopy(columns),
                    "schema": {"openAPIV3Schema": openapi_schema(model)},
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name (the plural) -> CRD, for every kind."""
    return {KINDS[kind][1]: crd(kind) for kind in KINDS}
