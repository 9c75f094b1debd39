"""Mesh tests needing Kubernetes (TokenReview, the CA Secret) use tests/integration/kubernetes fixtures.

Fixtures are visible only under the directory of their conftest, so they are re-exported here. The cluster
is shared: when the Kubernetes tests have started it in this session, mesh tests use that one instead of
starting a second; run alone, the first mesh test that asks starts it the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import controlplane
from tests.integration.kubernetes import conftest as kubernetes
from tests.integration.kubernetes.conftest import (  # noqa: F401 - fixtures, found by name
    k8s_api,
    k8s_client_for_token,
    k8s_install_crds,
    k8s_kubeconfig,
    k8s_kubeconfig_for_token,
    k8s_namespace,
    k8s_sa_token,
    k8s_token,
    pytest_collection_finish,
    pytest_collection_modifyitems,
)


@pytest.fixture(scope="session")
def k8s_cluster(request: pytest.FixtureRequest) -> Iterator[controlplane.ControlPlane]:
    if kubernetes._plane is not None:
        yield kubernetes._plane
        return
    yield from kubernetes.k8s_cluster.__wrapped__(request)
