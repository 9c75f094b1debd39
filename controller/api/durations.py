"""Durations as users write them in manifests: `500ms`, `30s`, `1m`, `1h`, `1h30m`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError naming the accepted forms."""
    value = text.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 1m, 1h)")
    return total


def _check(text: str) -> str:
    parse_duration(text)
    return text


def _text(value: object) -> object:
    """YAML reads `interval: 60` as a number; say what to write instead of "must be a string"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"not a duration: {value} (add a unit, e.g. {value:g}s)")
    return value


Duration = Annotated[str, BeforeValidator(_text), AfterValidator(_check)]
