"""The engine does no I/O: every module in controller/engine imports only pure stdlib and the API.

import-linter forbids the controller's own I/O layers; this also catches stdlib and third-party I/O
(sockets, processes, HTTP, files, clocks, threads) that a contract on our packages cannot see.
"""

from __future__ import annotations

import ast
from pathlib import Path

import controller.engine

ENGINE = Path(controller.engine.__file__).parent
ALLOWED = {
    "__future__", "collections", "dataclasses", "datetime", "enum", "functools", "itertools", "math",
    "typing", "controller.api", "controller.engine",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module or "")
    return names


def _allowed(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in ALLOWED)


def test_every_engine_module_imports_only_pure_modules() -> None:
    modules = sorted(ENGINE.rglob("*.py"))
    assert len(modules) > 5
    offenders = {f"{m.name}: {name}" for m in modules for name in _imports(m) if not _allowed(name)}
    assert not offenders


def test_the_check_itself_rejects_io_modules() -> None:
    for name in ("socket", "subprocess", "os", "time", "threading", "asyncio", "sqlite3", "urllib.request",
                 "httpx", "kubernetes", "controller.ports", "controller.runtime", "controller.platforms"):
        assert not _allowed(name), name
