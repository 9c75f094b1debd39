"""Compiles the proxy's hot path with Cython; everything else is in pyproject.toml.

A module of mesh/proxy with a `.pxd` beside it is compiled: the `.pxd` gives its classes C fields and
direct method calls, and the `.py` stays the one source (it also runs uncompiled, just slower). A module
with a `.pyx` (bytebuild: a few byte-level helpers) is compiled from it; its `.py` twin is the
plain-Python build. Without Cython, or with SLUICE_PURE_PYTHON=1, the package installs as plain Python.
docs/proxy.md has the figures.
"""

import os
from pathlib import Path

from setuptools import setup


def proxy_extensions() -> list:
    if os.environ.get("SLUICE_PURE_PYTHON") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    from setuptools import Extension

    proxy = Path("mesh/proxy")
    # A .pyx is the module's compiled source; otherwise the .py beside the .pxd is.
    modules = sorted(
        path.with_suffix(".pyx") if path.with_suffix(".pyx").exists() else path.with_suffix(".py")
        for path in proxy.glob("*.pxd")
    )
    extensions = [Extension(".".join(path.with_suffix("").parts), [str(path)]) for path in modules]
    # annotation_typing off: the .pxd files are the only source of C types; hints stay hints.
    directives = {"language_level": 3, "annotation_typing": False}
    return cythonize(extensions, quiet=True, compiler_directives=directives)


setup(ext_modules=proxy_extensions())
