"""Where provider credentials come from when a MetricTemplate names a `secretRef`.

In Kubernetes the runtime passes a lookup that reads the Secret through the API; this package must not
import the controller's Kubernetes code, so the lookup is just a callable. Locally the same Secret names
resolve to files (`<root>/<namespace>/<name>/<key>`, the layout of a mounted Secret) or to environment
variables (`SLUICE_SECRET_<NAME>_<KEY>`), so one manifest works in both modes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

# (secret name, namespace) -> the Secret's decoded data; raises KeyError when there is no such Secret.
SecretLookup = Callable[[str, str], Mapping[str, str]]


def env_var_name(secret: str, key: str) -> str:
    return "SLUICE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{secret}_{key}").upper()


def secrets_from_env(environ: Mapping[str, str] | None = None) -> SecretLookup:
    """Secrets as environment variables, e.g. `SLUICE_SECRET_PROM_AUTH_TOKEN` for secret prom-auth."""
    env = os.environ if environ is None else environ

    def lookup(name: str, namespace: str) -> Mapping[str, str]:
        keys = ("token", "username", "password")
        data = {key: env[env_var_name(name, key)] for key in keys if env_var_name(name, key) in env}
        if not data:
            names = ", ".join(env_var_name(name, key) for key in keys)
            raise KeyError(f"secret {namespace}/{name}: none of {names} is set")
        return data

    return lookup


def secrets_from_files(root: Path) -> SecretLookup:
    """Secrets as directories of files, `<root>/<namespace>/<name>/<key>`, trailing newlines stripped."""

    def lookup(name: str, namespace: str) -> Mapping[str, str]:
        folder = root / namespace / name
        if not folder.is_dir():
            raise KeyError(f"secret {namespace}/{name}: no directory {folder}")
        return {path.name: path.read_text().rstrip("\n") for path in folder.iterdir() if path.is_file()}

    return lookup
