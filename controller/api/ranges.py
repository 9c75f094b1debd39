"""Bounded numbers for manifests, with the error wording `sluice validate` prints (`must be between 1 and
100 (got 0)`). Constraints apply to values a user wrote; a field left out keeps its default unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator


def between(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high} (got {value})")
        return value

    return check


def at_least(low: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise ValueError(f"must be at least {low} (got {value})")
        return value

    return check


Weight = Annotated[int, AfterValidator(between(1, 100))]
"""A traffic weight step or cap in percent."""

Percent = Annotated[int, AfterValidator(between(0, 100))]
NonNegative = Annotated[int, AfterValidator(at_least(0))]
Positive = Annotated[int, AfterValidator(at_least(1))]
Port = Annotated[int, AfterValidator(between(1, 65535))]
