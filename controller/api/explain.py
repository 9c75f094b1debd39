"""Pydantic validation errors as the lines people read: a camelCase field path and a short reason.

Pydantic's own messages carry boilerplate (`Value error, ...`, documentation URLs, union member tags in
the location); a manifest author needs `spec.analysis.stepWeight: must be between 1 and 100 (got 0)`
and, for a misspelt field, the nearest known name.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from controller.api.problems import FieldProblems, Path, PathPart, format_path

_TYPE_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "list": "a list",
}


def explain(error: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """(field path, reason) per problem in document order; problems on one path are merged."""
    merged: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        for path, reason in _explain_one(item, model):
            reasons = merged.setdefault(format_path(path), [])
            if reason not in reasons:
                reasons.append(reason)
    return [(path, _either(reasons)) for path, reasons in merged.items()]


def _either(reasons: list[str]) -> str:
    """["must be a number (got a list)", "must be a string (got a list)"] -> "must be a number or a string
    (got a list)": one union field, one line."""
    shapes = [shape for reason in reasons if (shape := re.fullmatch(r"must be (.*) (\(got .*\))", reason))]
    if len(reasons) > 1 and len(shapes) == len(reasons) and len({shape[2] for shape in shapes}) == 1:
        return f"must be {' or '.join(shape[1] for shape in shapes)} {shapes[0][2]}"
    return " or ".join(reasons)


def _explain_one(item: Any, model: type[BaseModel]) -> list[tuple[Path, str]]:
    path = _field_path(model, tuple(item["loc"]))
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldProblems):
        return [((*path, *relative), reason) for relative, reason in cause.problems]
    if kind in ("value_error", "assertion_error") and cause is not None:
        return [(path, str(cause))]
    if kind == "missing":
        return [(path, "required")]
    if kind == "extra_forbidden":
        return [(path, _unknown_field(model, path))]
    if kind == "literal_error":
        allowed = ctx.get("expected", "").replace("'", "")
        return [(path, f"must be one of {allowed} (got {_show(value)})")]
    for prefix, name in _TYPE_NAMES.items():
        if kind in (f"{prefix}_type", f"{prefix}_parsing", f"{prefix}_from_float"):
            return [(path, f"must be {name} (got {_show(value)})")]
    return [(path, item["msg"][:1].lower() + item["msg"][1:])]


def _unknown_field(model: type[BaseModel], path: Path) -> str:
    owner = _type_at(model, path[:-1])
    known = _aliases(owner) if isinstance(owner, type) and issubclass(owner, BaseModel) else []
    hint = nearest_name(str(path[-1]), known)
    return f"unknown field (did you mean {hint}?)" if hint else "unknown field"


def nearest_name(name: str, known: list[str]) -> str | None:
    """Closest known name, ignoring case, `_` and `-` so `step_weight` finds `stepWeight`."""
    by_key = {_squash(alias): alias for alias in known}
    found = difflib.get_close_matches(_squash(name), list(by_key), n=1, cutoff=0.6)
    return by_key[found[0]] if found else None


def _squash(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _aliases(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _field_path(model: type[BaseModel], loc: tuple[PathPart, ...]) -> Path:
    """The location with union member tags (e.g. `int`, `str`) dropped: only real keys and indices."""
    path: list[PathPart] = []
    current: Any = model
    for part in loc:
        step = _step(current, part)
        if step is None:
            continue
        path.append(part)
        current = step
    return tuple(path)


def _type_at(model: type[BaseModel], path: Path) -> Any:
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return None
    return _unwrap(current)


def _step(annotation: Any, part: PathPart) -> Any:
    """The type one key or index below `annotation`, or None when `part` is not a key of it."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(part, int):
        return typing.get_args(annotation)[0] if origin is list else None
    if origin is dict:
        return typing.get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            if part in (field.alias, name):
                return field.annotation
        return Any  # an unknown key: still part of the path
    return Any if annotation is Any else None


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X (the first model in a union of several types)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            models = [arg for arg in members if isinstance(arg, type) and issubclass(arg, BaseModel)]
            if len(members) > 1 and not models:
                return annotation
            annotation = (models or members)[0]
        else:
            return annotation


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
