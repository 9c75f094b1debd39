"""What a validation problem is: raised by a model for a rule spanning fields, reported as one line.

Pydantic places an error at the model that raised it; a rule such as "stepWeights must ascend" belongs at
`stepWeights[2]`, so models raise `FieldProblems` carrying wire-name paths relative to themselves and the
loader (controller.api.loading) joins them to the document path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PathPart = str | int
Path = tuple[PathPart, ...]


class FieldProblems(ValueError):
    """One or more (relative wire path, reason) pairs found by a model validator."""

    def __init__(self, problems: Sequence[tuple[Path, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{format_path(path) or '.'}: {reason}" for path, reason in self.problems))


def raise_if_any(problems: Sequence[tuple[Path, str]]) -> None:
    if problems:
        raise FieldProblems(problems)


def format_path(path: Path) -> str:
    """("spec", "analysis", "metrics", 1, "query") -> "spec.analysis.metrics[1].query"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Problem:
    """One line of `sluice validate` output: `FILE#DOC: FIELD.PATH: reason`."""

    source: str
    document: int
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}#{self.document}" if self.document else self.source
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"
