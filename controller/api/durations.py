"""Durations as users write them in manifests: `500ms`, `30s`, `1m`, `1h`, `1h30m`."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from controller.api.duration_text import parse_duration

__all__ = ["Duration", "parse_duration"]


def _check(text: str) -> str:
    parse_duration(text)
    return text


def _text(value: object) -> object:
    """YAML reads `interval: 60` as a number; say what to write instead of "must be a string"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"not a duration: {value} (add a unit, e.g. {value:g}s)")
    return value


Duration = Annotated[str, BeforeValidator(_text), AfterValidator(_check)]
