"""Backend identities from Pods: which SPIFFE ID a gateway requires of an mTLS backend's endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from mesh.control.identities import MTLS_APP_PROTOCOL, backend_identity
from mesh.control.translate import node_config
from mesh.control.watch import RESOURCES, Store, pod_identity_fields
from tests.unit.mesh_control.objects import NS, endpoint_slice, pod, service, snapshot, split

SA = "spiffe://cluster.local/ns/shop/sa/{}"


def mesh_objects(*pods: dict[str, Any], app_protocol: str | None = MTLS_APP_PROTOCOL, **owners: str):
    """Apex api (:80) split to backend api-v1, whose endpoints 198.18.0.x:15443 run in `owners` pods."""
    addresses = sorted(owners)
    return snapshot(
        service("api", 80, 8080),
        service("api-v1", 80, 15443, app_protocol=app_protocol),
        endpoint_slice("api-v1", addresses, 15443, pods={a: owners[a] for a in addresses if owners[a]}),
        split("api", {"api-v1": 100}),
        *pods,
    )


def backend(snap, mtls: bool = True, trust_domain: str = "cluster.local") -> tuple[dict, list[str]]:
    result = node_config(snap, NS, mtls=mtls, trust_domain=trust_domain)
    (entry,) = result.document()["config"]["services"]
    return entry["backends"]["api-v1"], result.problems


def test_the_identity_is_the_service_account_of_the_pods_behind_the_endpoints():
    snap = mesh_objects(
        pod("api-1", "api"), pod("api-2", "api"), **{"198.18.0.1": "api-1", "198.18.0.2": "api-2"}
    )
    found, problems = backend(snap)
    assert found == {"endpoints": ["198.18.0.1:15443", "198.18.0.2:15443"], "identity": SA.format("api")}
    assert problems == []
    assert backend(snap, trust_domain="prod.example")[0]["identity"] == "spiffe://prod.example/ns/shop/sa/api"


def test_a_pod_without_service_account_name_runs_as_default():
    found, _ = backend(mesh_objects(pod("api-1"), **{"198.18.0.1": "api-1"}))
    assert found["identity"] == SA.format("default")


def test_plain_backend_ports_get_no_identity_and_need_no_tls():
    snap = mesh_objects(pod("api-1", "api"), app_protocol=None, **{"198.18.0.1": "api-1"})
    assert backend(snap, mtls=False) == ({"endpoints": ["198.18.0.1:15443"]}, [])
    assert backend(snap, mtls=True) == ({"endpoints": ["198.18.0.1:15443"]}, [])


def test_a_proxy_without_tls_sends_nothing_to_an_mtls_backend_rather_than_plain_text():
    result = node_config(mesh_objects(pod("api-1", "api"), **{"198.18.0.1": "api-1"}), NS, mtls=False)
    (entry,) = result.document()["config"]["services"]
    assert entry["split"] == {"unrouted": 1} and "identity" not in entry["backends"]["api-v1"]
    assert result.problems == [
        f"TrafficSplit api: backend Service api-v1 port 80 is {MTLS_APP_PROTOCOL} and this proxy has no "
        "tls section to connect with; it gets no traffic"
    ]


A, B, C = "198.18.0.1", "198.18.0.2", "198.18.0.3"
MIXED = [
    # (ServiceAccount by address, expected identity, endpoints that get traffic): a roll-out to a new account
    ({A: "api", B: "api", C: "api-new"}, "api", [A, B]),
    ({A: "api", B: "api-new", C: "api-new"}, "api-new", [B, C]),
    ({A: "b", B: "a"}, "a", [B]),  # a tie: the first in sort order
]


@pytest.mark.parametrize(("accounts", "identity", "kept"), MIXED)
def test_pods_of_several_service_accounts_the_most_endpoints_win(accounts, identity, kept):
    pods = [pod(f"pod-{address[-1]}", account) for address, account in accounts.items()]
    snap = mesh_objects(*pods, **{address: f"pod-{address[-1]}" for address in accounts})
    found, problems = backend(snap)
    assert found == {"identity": SA.format(identity), "endpoints": [f"{a}:15443" for a in kept]}
    (problem,) = problems
    assert problem.startswith(f"TrafficSplit api: backend Service api-v1: its Pods run as 2 ServiceAccounts; "
                              f"{SA.format(identity)} has the most endpoints")  # fmt: skip
    # Deterministic: the same objects give the same answer whatever order they are listed in.
    assert backend(mesh_objects(*reversed(pods), **{a: f"pod-{a[-1]}" for a in reversed(accounts)})) == (
        found,
        problems,
    )


def test_endpoints_of_unknown_pods_get_no_traffic():
    snap = mesh_objects(
        pod("api-1", "api"), **{"198.18.0.1": "api-1", "198.18.0.2": "gone", "198.18.0.3": ""}
    )
    found, problems = backend(snap)
    assert found == {"endpoints": ["198.18.0.1:15443"], "identity": SA.format("api")}
    assert problems == [
        "TrafficSplit api: backend Service api-v1: endpoints 198.18.0.2:15443, 198.18.0.3:15443 belong to no "
        "known Pod, so their identity is unknown; they get no traffic"
    ]


def test_no_known_pod_at_all_means_no_endpoints_and_no_identity():
    assert backend_identity({"198.18.0.1:15443": None}, {}, "cluster.local").endpoints == []
    assert backend_identity({}, {}, "cluster.local").identity is None


def test_the_watch_keeps_only_who_a_pod_runs_as_and_ignores_status_churn():
    (resource,) = [r for r in RESOURCES if r.field == "pods"]
    assert resource.keep is pod_identity_fields
    full = {
        "metadata": {"name": "api-1", "namespace": NS, "resourceVersion": "7", "labels": {"app": "api"}},
        "spec": {"serviceAccountName": "api", "containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Pending"},
    }
    kept = pod_identity_fields(full)
    assert kept == {"metadata": {"name": "api-1", "namespace": NS}, "spec": {"serviceAccountName": "api"}}
    changes = []
    store = Store(lambda: changes.append(1))
    store.put("pods", kept)
    running = {
        **full,
        "metadata": {**full["metadata"], "resourceVersion": "8"},
        "status": {"phase": "Running"},
    }
    store.put("pods", pod_identity_fields(running))  # a status update: nothing the translation reads
    assert len(changes) == 1
    store.put("pods", kept, deleted=True)
    store.put("pods", kept, deleted=True)  # already gone
    assert len(changes) == 2
