"""Secrets for AlertProviders in local mode (no Kubernetes): environment variables, then files.

For `secretRef.name: slack-bot` and key `token`, the lookup tries, in order:
  1. env `SLUICE_SECRET_SLACK_BOT_TOKEN` (name upper-cased, every non-alphanumeric character -> `_`);
  2. file `$SLUICE_SECRETS_DIR/<namespace>/slack-bot/token`, then `$SLUICE_SECRETS_DIR/slack-bot/token`
     (the layout of a mounted Kubernetes Secret volume; trailing newline stripped).
A secret exists when at least one of its keys is found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from controller.notify.endpoint import SECRET_KEYS, SecretLookup

SECRETS_DIR_ENV = "SLUICE_SECRETS_DIR"


def env_var_name(secret: str, key: str) -> str:
    return "SLUICE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{secret}_{key}").upper()


def local_secrets(env: Mapping[str, str] | None = None, directory: str | Path | None = None) -> SecretLookup:
    environ = os.environ if env is None else env
    root = (
        Path(directory)
        if directory
        else (Path(environ[SECRETS_DIR_ENV]) if environ.get(SECRETS_DIR_ENV) else None)
    )

    def read_file(namespace: str, name: str, key: str) -> str | None:
        if root is None:
            return None
        for path in (root / namespace / name / key, root / name / key):
            if path.is_file():
                return path.read_text().strip()
        return None

    def lookup(namespace: str, name: str) -> Mapping[str, str] | None:
        data: dict[str, str] = {}
        for key in SECRET_KEYS:
            value = environ.get(env_var_name(name, key)) or read_file(namespace, name, key)
            if value:
                data[key] = value
        return data or None

    return lookup
