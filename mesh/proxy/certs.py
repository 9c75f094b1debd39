"""The proxy's certificate: fetched from the mesh CA (or read from files) and renewed at 2/3 of its life.

Each fetch runs in a short-lived helper process (mesh/proxy/certs_helper.py): it makes a fresh key and a
CSR, sends the CSR with the ServiceAccount token (mesh/identity.py checks it with a TokenReview), and hands
back the chain, so the long-running proxy never loads `cryptography`.

Renewal at two thirds of the lifetime (8 h before expiry for 24 h certificates) leaves a third of it for
the CA to be away: failures are retried with backoff, never later than the certificate's end. The files
source (cert-manager's csi-driver, a test) is re-read on the same schedule. `Renewer` takes its clock and
sleep as arguments so the timing is tested without waiting.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from mesh.proxy.config import Tls
from mesh.proxy.tls import Bundle

RENEW_AT = 2 / 3
RETRY_FIRST, RETRY_MAX = 1.0, 30.0
MIN_RENEWAL_INTERVAL = 1.0  # a certificate that is already old (files) is re-read at most this often
FETCH_TIMEOUT = 10.0
HELPER_START_SECONDS = 20.0  # a cold Python start with cryptography, on a busy node
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where `-m mesh.proxy.certs_helper` resolves
_PEMS = ("chain_pem", "key_pem", "trust_pem")


class CertificateError(Exception):
    """No certificate could be had; the message says from where and why."""


class Source(Protocol):
    def fetch(self) -> Bundle:
        """A current certificate (blocking); CertificateError if there is none to be had."""
        ...


class HelperSource:
    """Gets each certificate from a short-lived `python -m mesh.proxy.certs_helper` (see its docstring)."""

    def __init__(self, settings: Tls) -> None:
        self.settings = settings

    def fetch(self) -> Bundle:
        pythonpath = os.pathsep.join(filter(None, (str(PROJECT_ROOT), os.environ.get("PYTHONPATH"))))
        try:
            done = subprocess.run(
                [sys.executable, "-m", "mesh.proxy.certs_helper"],
                input=self.settings.model_dump_json(),
                capture_output=True,
                text=True,
                timeout=FETCH_TIMEOUT + HELPER_START_SECONDS,
                env={**os.environ, "PYTHONPATH": pythonpath},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CertificateError(f"the certificate helper did not finish: {exc}") from None
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
            raise CertificateError(lines[-1])
        try:
            return decode(done.stdout)
        except (ValueError, KeyError, TypeError) as exc:
            raise CertificateError(f"the certificate helper answered something unreadable: {exc}") from None


def encode(bundle: Bundle) -> str:
    """A Bundle as the helper prints it: JSON, PEMs in base64."""
    pems = {name: base64.b64encode(getattr(bundle, name)).decode() for name in _PEMS}
    times = {"not_before": bundle.not_before, "not_after": bundle.not_after}
    return json.dumps({**pems, "identity": bundle.identity, **times})


def decode(text: str) -> Bundle:
    data = json.loads(text)
    return Bundle(**{**data, **{name: base64.b64decode(data[name]) for name in _PEMS}})


def source_for(settings: Tls) -> Source:
    return HelperSource(settings)


def renewal_delay(bundle: Bundle, now: float) -> float:
    """Seconds from `now` until two thirds of the bundle's lifetime have passed."""
    return max(0.0, bundle.not_before + (bundle.not_after - bundle.not_before) * RENEW_AT - now)


def retry_delay(bundle: Bundle, now: float, failures: int) -> float:
    """Backoff after `failures` failed renewals: 1 s doubling to 30 s, and never past the expiry."""
    backoff = min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, failures - 1))
    return max(RETRY_FIRST, min(backoff, bundle.not_after - now))


class Renewer:
    """Keeps a certificate current: `fetch` again at 2/3 of the lifetime, hand each new one to `install`."""

    def __init__(
        self,
        source: Source,
        install: Callable[[Bundle], None],
        log: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.source = source
        self.install = install
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.renewals = 0

    async def fetch(self) -> Bundle:
        return await asyncio.to_thread(self.source.fetch)  # key generation and HTTP stay off the loop

    async def run(self, bundle: Bundle) -> None:
        """Renew `bundle` (already installed) forever; cancel to stop."""
        failures = 0
        delay = max(MIN_RENEWAL_INTERVAL, renewal_delay(bundle, self.clock()))
        while True:
            await self.sleep(delay)
            try:
                fresh = await self.fetch()
                self.install(fresh)
            except Exception as exc:  # whatever went wrong, this loop must live on: the next try may work
                failures += 1
                delay = retry_delay(bundle, self.clock(), failures)
                expires = datetime.datetime.fromtimestamp(bundle.not_after, datetime.UTC).isoformat()
                self.log(
                    f"certificate renewal failed ({exc}); retrying in {delay:.0f}s, valid until {expires}"
                )
                continue
            failures = 0
            bundle = fresh
            self.renewals += 1
            delay = max(MIN_RENEWAL_INTERVAL, renewal_delay(bundle, self.clock()))
