"""Multi-document YAML read strictly: a syntax error or a duplicate key is a problem with its line.

PyYAML keeps the last of two equal keys without a word, so a manifest with `stepWeight` written twice
would validate and run with a value its author may not have meant; Kubernetes' strict decoding refuses
it, and so does sluice.
"""

from __future__ import annotations

from typing import Any

import yaml

from controller.api.problems import Problem

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                mark = key_node.start_mark
                self.duplicates.append(
                    f"line {mark.line + 1}, column {mark.column + 1}: duplicate key {key!r} (write it once)"
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_documents(text: str, source: str) -> tuple[list[Any], list[Problem], bool]:
    """Every document (None for an empty one) up to the first syntax error, the problems found, and
    whether the whole text was read (False after a syntax error)."""
    documents: list[Any] = []
    problems: list[Problem] = []
    loader = _StrictLoader(text)
    try:
        while loader.check_data():
            data = loader.get_data()
            documents.append(data)
            problems += [Problem(source, len(documents), "", reason) for reason in loader.duplicates]
            loader.duplicates.clear()
    except yaml.YAMLError as error:
        problems.append(Problem(source, len(documents) + 1, "", _syntax_reason(error)))
        return documents, problems, False
    finally:
        loader.dispose()
    return documents, problems, True


def _syntax_reason(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    what = getattr(error, "problem", None) or str(error)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    started = (
        f" ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
        if context and context_mark
        else ""
    )
    return f"{where}YAML syntax error: {what}{started}"
