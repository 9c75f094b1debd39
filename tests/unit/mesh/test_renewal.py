"""Certificate renewal on the proxy: at two thirds of the lifetime, retries with backoff, on a fake clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mesh.proxy.certs import CertificateError, HelperSource, Renewer, renewal_delay, retry_delay
from mesh.proxy.config import Tls
from mesh.proxy.tls import Bundle

DAY = 86400.0


def bundle(issued: float, lifetime: float = DAY, name: str = "a") -> Bundle:
    return Bundle(b"", b"", b"", f"spiffe://cluster.local/ns/default/sa/{name}", issued, issued + lifetime)


class FakeTime:
    """A clock that moves only when the renewer sleeps; stops the loop after `stop_after` sleeps."""

    def __init__(self, now: float, stop_after: int) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.stop_after = stop_after

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) > self.stop_after:
            raise asyncio.CancelledError
        self.now += seconds


class Source:
    """Answers with `results` in turn: a Bundle (issued now) or an exception to raise."""

    def __init__(self, time: FakeTime, results: list[object]) -> None:
        self.time = time
        self.results = results
        self.calls = 0

    def fetch(self) -> Bundle:
        result = self.results[self.calls]
        self.calls += 1
        if isinstance(result, Exception):
            raise result
        return bundle(self.time.now, name=str(result))


def run(renewer: Renewer, first: Bundle) -> None:
    async def body() -> None:
        renewer.fetch = lambda: asyncio.sleep(0, renewer.source.fetch())  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await renewer.run(first)

    asyncio.run(body())


def test_renewal_is_due_at_two_thirds_of_the_lifetime() -> None:
    assert renewal_delay(bundle(1000.0), 1000.0) == pytest.approx(16 * 3600)
    assert renewal_delay(bundle(1000.0), 1000.0 + 10 * 3600) == pytest.approx(6 * 3600)
    assert renewal_delay(bundle(1000.0), 1000.0 + 20 * 3600) == 0.0


def test_each_new_certificate_is_installed_and_renewed_at_two_thirds_of_its_own_life() -> None:
    time = FakeTime(now=5000.0, stop_after=3)
    installed: list[Bundle] = []
    renewer = Renewer(Source(time, ["b", "c", "d"]), installed.append, print, time.clock, time.sleep)
    run(renewer, bundle(5000.0))
    assert time.sleeps == pytest.approx([16 * 3600] * 4)
    assert [b.identity.rsplit("/", 1)[1] for b in installed] == ["b", "c", "d"]
    assert renewer.renewals == 3


def test_failures_back_off_and_never_wait_past_the_expiry() -> None:
    time = FakeTime(now=0.0, stop_after=8)
    errors = [CertificateError("control plane away")] * 7
    logged: list[str] = []
    installed: list[Bundle] = []
    renewer = Renewer(Source(time, [*errors, "b"]), installed.append, logged.append, time.clock, time.sleep)
    run(renewer, bundle(0.0, lifetime=60.0))
    # due at 40 s; then 1, 2, 4, 8, 5 (the 20 s left cap the 16 and later the 30), ...
    assert time.sleeps[:6] == pytest.approx([40.0, 1.0, 2.0, 4.0, 8.0, 5.0])
    assert time.sleeps[6] == pytest.approx(1.0)  # expired: keep trying every second
    assert "control plane away" in logged[0] and "retrying in 1s" in logged[0]
    assert [b.identity.rsplit("/", 1)[1] for b in installed] == ["b"]


def test_a_certificate_that_is_already_old_is_re_read_at_most_every_second() -> None:
    time = FakeTime(now=100.0, stop_after=2)
    renewer = Renewer(Source(time, ["b", "c"]), lambda b: None, print, time.clock, time.sleep)
    run(renewer, bundle(0.0, lifetime=120.0))
    assert time.sleeps[0] == 1.0


def test_retry_delay_doubles_to_thirty_seconds() -> None:
    current = bundle(0.0)
    assert [retry_delay(current, 0.0, n) for n in (1, 2, 3, 5, 6, 9)] == [1, 2, 4, 16, 30, 30]


def test_an_unexpected_error_is_logged_and_retried_not_fatal() -> None:
    time = FakeTime(now=0.0, stop_after=2)
    logged: list[str] = []

    def install(_: Bundle) -> None:
        raise ValueError("a bug in installing")

    renewer = Renewer(Source(time, ["b", "c"]), install, logged.append, time.clock, time.sleep)
    run(renewer, bundle(0.0, lifetime=60.0))
    assert len(logged) == 2 and "a bug in installing" in logged[0]


def test_the_helper_process_reads_files_and_explains_failures(tmp_path: Path) -> None:
    from mesh.identity import CertificateAuthority
    from tests.integration.mesh.mtls_rig import issue_files

    files = issue_files(CertificateAuthority.generate(), tmp_path, "api")
    fetched = HelperSource(Tls.model_validate({"files": files})).fetch()
    assert fetched.identity == "spiffe://cluster.local/ns/shop/sa/api"
    assert fetched.key_pem == Path(files["key"]).read_bytes()
    assert 86000 < fetched.not_after - fetched.not_before < 86500
    missing = {**files, "key": str(tmp_path / "nope.key")}
    with pytest.raises(CertificateError, match=r"cannot read the mesh certificate files: .*nope\.key"):
        HelperSource(Tls.model_validate({"files": missing})).fetch()
