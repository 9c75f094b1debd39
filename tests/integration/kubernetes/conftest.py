"""Fixtures for tests against the real Kubernetes test control plane (tests/cluster).

Why session scope: starting etcd + kube-apiserver + kcm + scheduler + kwok takes seconds, so one cluster
serves the whole pytest session, and each test gets its own fresh namespace for isolation. The cluster starts
lazily: only when a collected test asks for one of these fixtures. If the binaries are not cached yet they
are built (tests/cluster/build.sh) right after collection, outside any test's timeout.

Fixtures:
  k8s_cluster            the running ControlPlane (server URL, ca_file, ports, log_dir, pids())
  k8s_kubeconfig         Path of an admin kubeconfig (token user in system:masters)
  k8s_token              the admin bearer token
  k8s_api                an admin `kubernetes.client.ApiClient` (shared; do not close it)
  k8s_namespace          a fresh namespace name for this test, deleted afterwards
  k8s_install_crds       install_crds(manifests) -> names: create/replace CRDs, wait Established + served
  k8s_sa_token           sa_token(name, rules=None, cluster_rules=None, namespace=None) -> bearer token of a
                         new ServiceAccount bound to exactly those RBAC rules (none: it may do nothing)
  k8s_client_for_token   client_for_token(token) -> ApiClient (closed after the test)
  k8s_kubeconfig_for_token  kubeconfig_for_token(token) -> Path, for a process under test with limited rights
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import controlplane

_CLUSTER_FIXTURE = "k8s_cluster"
_plane: controlplane.ControlPlane | None = None


def _needs_cluster(item: pytest.Item) -> bool:
    return _CLUSTER_FIXTURE in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test using the cluster carries the `cluster` marker, so `-m "not cluster"` skips them all."""
    for item in items:
        if _needs_cluster(item):
            item.add_marker(pytest.mark.cluster)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build missing binaries before any test runs (a cold build takes far longer than a test timeout)."""
    if not any(_needs_cluster(item) for item in session.items):
        return
    if controlplane.binaries_present():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            "sluice: building the test cluster binaries (tests/cluster/build.sh), cold: minutes"
        )
    capture = session.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            controlplane.ensure_binaries()
    else:
        controlplane.ensure_binaries()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failing cluster test, attach the tail of every component's log to the report."""
    report = yield
    if report.failed and _plane is not None and _needs_cluster(item):
        report.sections.append(("test cluster logs (tail)", _plane.log_tails(25)))
    return report


@pytest.fixture(scope="session")
def k8s_cluster(request: pytest.FixtureRequest) -> Iterator[controlplane.ControlPlane]:
    global _plane
    binaries = controlplane.ensure_binaries()
    workdir = controlplane.new_workdir()
    plane = controlplane.ControlPlane(workdir=workdir, binaries=binaries, nodes=2)
    try:
        plane.start()
    except BaseException:
        shutil.rmtree(workdir / "etcd", ignore_errors=True)
        _report(request, f"sluice: test cluster failed to start; logs kept in {plane.log_dir}")
        raise
    _plane = plane
    try:
        yield plane
    finally:
        _plane = None
        plane.stop()
        if request.session.testsfailed:
            shutil.rmtree(workdir / "etcd", ignore_errors=True)  # ~70 MB of WAL; logs and certs stay
            _report(request, f"sluice: tests failed; test cluster logs kept in {plane.log_dir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _report(request: pytest.FixtureRequest, line: str) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


@pytest.fixture(scope="session")
def k8s_kubeconfig(k8s_cluster: controlplane.ControlPlane) -> Path:
    return k8s_cluster.kubeconfig


@pytest.fixture(scope="session")
def k8s_token(k8s_cluster: controlplane.ControlPlane) -> str:
    return k8s_cluster.token


@pytest.fixture(scope="session")
def k8s_api(k8s_cluster: controlplane.ControlPlane) -> Iterator[Any]:
    api = k8s_cluster.api_client()
    try:
        yield api
    finally:
        api.close()


def _namespace_name(nodeid: str) -> str:
    test = nodeid.split("::")[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", test.lower()).strip("-")[:40].strip("-") or "test"
    return f"t-{slug}-{secrets.token_hex(3)}"


@pytest.fixture
def k8s_namespace(request: pytest.FixtureRequest, k8s_api: Any) -> Iterator[str]:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(k8s_api)
    name = _namespace_name(request.node.nodeid)
    core.create_namespace({"metadata": {"name": name, "labels": {"sluice.dev/test": "true"}}})
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)  # the namespace controller finishes it in the background
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture(scope="session")
def k8s_install_crds(k8s_api: Any) -> Callable[..., list[str]]:
    def install(manifests: Any, timeout: float = 30.0) -> list[str]:
        items = manifests if isinstance(manifests, list | tuple) else [manifests]
        return controlplane.install_crds(k8s_api, items, timeout=timeout)

    return install


@pytest.fixture
def k8s_sa_token(k8s_api: Any, k8s_namespace: str) -> Iterator[Callable[..., str]]:
    from kubernetes import client

    cluster_roles: list[str] = []

    def make(
        name: str,
        rules: list[dict[str, Any]] | None = None,
        cluster_rules: list[dict[str, Any]] | None = None,
        namespace: str | None = None,
    ) -> str:
        ns = namespace or k8s_namespace
        if cluster_rules:
            cluster_roles.append(f"{ns}-{name}")
        return controlplane.create_service_account_token(
            k8s_api, ns, name, rules=rules, cluster_rules=cluster_rules
        )

    yield make
    rbac = client.RbacAuthorizationV1Api(k8s_api)
    for role in cluster_roles:
        rbac.delete_cluster_role_binding(role)
        rbac.delete_cluster_role(role)


@pytest.fixture
def k8s_client_for_token(k8s_cluster: controlplane.ControlPlane) -> Iterator[Callable[[str], Any]]:
    made: list[Any] = []

    def make(token: str) -> Any:
        api = k8s_cluster.client_for_token(token)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def k8s_kubeconfig_for_token(k8s_cluster: controlplane.ControlPlane) -> Callable[[str], Path]:
    return k8s_cluster.kubeconfig_for_token
