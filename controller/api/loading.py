"""Read sluice resources from YAML files and folders, each document checked by its kind.

One pass collects every problem (not just the first) as `FILE#DOC: FIELD.PATH: reason` lines, so
`sluice validate` and local mode report a whole folder at once.

Which documents are checked: every document whose apiVersion is `sluice.dev/...` or `flagger.app/...`
(the latter with a hint to change it), and every document without an apiVersion. Documents of other API
groups (a Deployment, a ConfigMap) are skipped. A file found while walking a folder is skipped as a whole
when none of its documents has an apiVersion or kind (it is some other YAML, e.g. a Prometheus config);
a file named on its own is always read as manifests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from controller.api.base import API_GROUP, API_VERSION, Model
from controller.api.explain import explain, nearest_name
from controller.api.kinds import KINDS
from controller.api.problems import Problem
from controller.api.yaml_documents import read_documents

FLAGGER_GROUP = "flagger.app"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Loaded:
    source: str
    document: int
    resource: Model


@dataclass
class LoadResult:
    resources: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Documents read but not sluice's (other API groups, other YAML files), by count.
    skipped: int = 0

    @property
    def checked(self) -> int:
        return len(self.resources) + len({(p.source, p.document) for p in self.problems})

    def extend(self, other: LoadResult) -> None:
        self.resources += other.resources
        self.problems += other.problems
        self.skipped += other.skipped


class InvalidResource(ValueError):
    """A resource that failed validation; `problems` holds one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_paths(paths: Iterable[str | Path]) -> LoadResult:
    """Every sluice document in these files and folders (folders recursively, *.yaml and *.yml)."""
    result = LoadResult()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for file in _yaml_files(path):
                result.extend(load_file(file, named=False))
        else:
            result.extend(load_file(path, named=True))
    return result


def load_file(path: Path, named: bool = True) -> LoadResult:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return LoadResult(problems=[Problem(source, 0, "", f"cannot read: {error}")])
    return load_text(text, source, named)


def load_text(text: str, source: str = "<input>", named: bool = True) -> LoadResult:
    """`named=False` (a file met while walking a folder) skips YAML that holds no resources at all."""
    documents, yaml_problems, complete = read_documents(text, source)
    result = LoadResult()
    if not named and complete and not any(_looks_like_resource(data) for data in documents):
        result.skipped = sum(data is not None for data in documents)
        return result
    for number, data in enumerate(documents, start=1):
        own_yaml_problems = [problem for problem in yaml_problems if problem.document == number]
        result.problems += own_yaml_problems
        if data is None:
            continue
        resource, problems = parse_document(data, source, number)
        result.problems += problems
        if resource is not None and not own_yaml_problems:
            result.resources.append(Loaded(source, number, resource))
        elif resource is None and not problems and not own_yaml_problems:
            result.skipped += 1
    result.problems += [problem for problem in yaml_problems if problem.document > len(documents)]
    return result


def parse_resource(data: Mapping[str, Any], source: str = "<input>") -> Model:
    """One resource from a parsed document; raises InvalidResource. Other API groups are an error here."""
    resource, problems = parse_document(data, source, 0)
    if resource is None and not problems:
        got = data.get("apiVersion")
        problems = [Problem(source, 0, "apiVersion", f"must be {API_VERSION} (got {got!r})")]
    if problems:
        raise InvalidResource(problems)
    assert resource is not None
    return resource


def parse_document(data: Any, source: str, document: int) -> tuple[Model | None, list[Problem]]:
    """(resource, []) when valid; (None, problems) when not; (None, []) when not a sluice document."""

    def problem(path: str, reason: str) -> Problem:
        return Problem(source, document, path, reason)

    if not isinstance(data, Mapping):
        expected = "expected a mapping with apiVersion and kind"
        return None, [problem("", f"not a resource: {expected} (got {_kind_of(data)})")]
    api_version, kind = data.get("apiVersion"), data.get("kind")
    group = api_version.split("/")[0] if isinstance(api_version, str) else None
    if group is not None and group not in (API_GROUP, FLAGGER_GROUP):
        return None, []
    problems: list[Problem] = []
    if api_version is None:
        problems.append(problem("apiVersion", f"required ({API_VERSION})"))
    elif group == FLAGGER_GROUP:
        problems.append(problem("apiVersion", f"{api_version} is Flagger's: change it to {API_VERSION}"))
    elif api_version != API_VERSION:
        problems.append(problem("apiVersion", f"must be {API_VERSION} (got {api_version!r})"))
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        problems.append(problem("kind", _kind_reason(kind)))
        return None, problems
    try:
        resource = model.model_validate({**data, "apiVersion": API_VERSION}, by_alias=True, by_name=False)
    except ValidationError as error:
        problems += [problem(path, reason) for path, reason in explain(error, model)]
        return None, problems
    return (None, problems) if problems else (resource, [])


def _kind_reason(kind: Any) -> str:
    known = ", ".join(KINDS)
    if kind is None:
        return f"required (one of {known})"
    hint = nearest_name(str(kind), list(KINDS))
    suffix = f"; did you mean {hint}?" if hint else ""
    return f"unknown kind {kind!r} (one of {known}){suffix}"


def _looks_like_resource(data: Any) -> bool:
    return isinstance(data, Mapping) and ("apiVersion" in data or "kind" in data)


def _kind_of(data: Any) -> str:
    return {list: "a list", str: "a string"}.get(type(data), type(data).__name__)


def _yaml_files(folder: Path) -> list[Path]:
    files = [
        file
        for file in folder.rglob("*")
        if file.suffix in YAML_SUFFIXES and file.is_file() and not _hidden(file.relative_to(folder))
    ]
    return sorted(files)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
