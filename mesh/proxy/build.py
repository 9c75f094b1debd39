"""Which build of the data plane is running: compiled from the .pxd-typed modules, or plain Python.

The compiled modules sit beside their sources and win the import; one older than its source would run
old code, so the proxy says which build it runs and, in a source checkout (where files get edited; an
installed package's file times say nothing), warns about stale ones at start-up.
"""

from __future__ import annotations

import importlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_CHECKOUT = (_HERE.parents[1] / ".git").exists()


def typed_modules() -> list[str]:
    """Names of the modules setup.py compiles (those with a .pxd or a .pyx)."""
    return sorted({path.stem for pattern in ("*.pxd", "*.pyx") for path in _HERE.glob(pattern)})


def describe() -> tuple[str, list[str]]:
    """("compiled" | "python" | "partly compiled", sources newer than their compiled module)."""
    compiled, stale = [], []
    for name in typed_modules():
        module = importlib.import_module(f"mesh.proxy.{name}")
        built = Path(module.__file__ or "")
        if built.suffix != ".so":
            continue
        compiled.append(name)
        sources = [_HERE / f"{name}{suffix}" for suffix in (".py", ".pxd", ".pyx")]
        built_at = built.stat().st_mtime
        if _CHECKOUT and any(source.exists() and source.stat().st_mtime > built_at for source in sources):
            stale.append(f"mesh/proxy/{name}.py")
    if not compiled:
        return "python", stale
    return ("compiled" if len(compiled) == len(typed_modules()) else "partly compiled"), stale
