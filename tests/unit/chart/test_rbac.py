"""The chart's RBAC grants exactly the API calls the controller's code makes: nothing missing, nothing extra.

Why a maintained table and not pure inference: the platform code speaks paths (`resource_path(...)` with a
plural chosen at run time), which no static analysis resolves reliably. So the table below says which
(group, resource, verb) each call site needs, with evidence, and the test ties it to both sides:

1. the rules the chart renders (ClusterRole + leader-election Role) equal the table, exactly;
2. every row's evidence (a regex) is still in its module, so a removed call cannot leave a grant behind;
3. the code cannot gain a call the table does not know: every resource plural named in a Kubernetes module,
   every `KubeClient` verb a module uses, every typed-client call (CoreV1Api, CoordinationV1Api, ...) and
   every `CustomObjects` router call must be covered by a row of the same module.

When this fails after a code change: add or drop the row, and the rule in charts/sluice/templates/rbac.yaml.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import kubernetes.client
import pytest

from tests.unit.chart.helm import REPO, find, template

pytestmark = pytest.mark.timeout(1800)


@dataclass(frozen=True)
class Use:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]  # (module path under controller/, regex found in it)

    def triples(self) -> set[tuple[str, str, str]]:
        return {(self.group, r, v) for r in self.resources for v in self.verbs}

    def modules(self) -> set[str]:
        return {module for module, _ in self.evidence}


K8S = "platforms/kubernetes"
USES = [
    # Informers list+watch the three kinds (paths from store.py's PLURALS, requests in informer.py).
    Use("sluice.dev", ("canaries", "metrictemplates", "alertproviders"), ("list", "watch"), (
        (f"{K8S}/store.py", r'"Canary": "canaries", "MetricTemplate": "metrictemplates", "AlertProvider"'),
        (f"{K8S}/informer.py", r"self\.kube\.get\(self\.path\)"),
        (f"{K8S}/informer.py", r"self\.kube\.watch\(self\.path"),
    )),
    Use("sluice.dev", ("canaries",), ("get",), (
        (f"{K8S}/store.py", r'self\.kube\.get\(self\._path\("Canary"'),
        (f"{K8S}/store.py", r'self\.kube\.get_or_none\(self\._path\("Canary"'),
    )),
    Use("sluice.dev", ("canaries",), ("patch",), (
        (f"{K8S}/store.py", r'self\.kube\.patch\(self\._path\("Canary"'),  # the finalizer
    )),
    Use("sluice.dev", ("canaries/status",), ("update",), (
        (f"{K8S}/store.py", r'self\.kube\.replace\(self\._path\("Canary", ns, name\) \+ "/status"'),
    )),
    Use("sluice.dev", ("canaries/status",), ("patch",), (
        (f"{K8S}/store.py", r'self\._path\("Canary", namespace, name\) \+ "/status"'),
        (f"{K8S}/store.py", r'self\.kube\.patch\(path, \{"status"'),
    )),
    Use("apps", ("deployments", "daemonsets"), ("get",), (
        (f"{K8S}/deployment.py", r'plural = "deployments"'),
        (f"{K8S}/daemonset.py", r'plural = "daemonsets"'),
        (f"{K8S}/platform.py", r"self\.kube\.get_or_none\(self\._target_path"),
        (f"{K8S}/platform.py", r"self\.kube\.get_or_none\(path\)"),
    )),
    Use("apps", ("deployments", "daemonsets"), ("create", "update"), (
        (f"{K8S}/platform.py", r"self\.kube\.create\(path, body\)"),
        (f"{K8S}/platform.py", r'self\.kube\.replace\(f"\{path\}/\{name\}", body\)'),
    )),
    Use("apps", ("deployments", "daemonsets"), ("patch",), (
        (f"{K8S}/platform.py", r"self\.kube\.patch\(self\._target_path\(canary, kind\), kind\.scale_patch"),
    )),
    Use("autoscaling", ("horizontalpodautoscalers",), ("get", "create", "update"), (
        (f"{K8S}/autoscaler.py", r'resource_path\(HPA_API, "horizontalpodautoscalers"'),
        (f"{K8S}/autoscaler.py", r"self\.kube\.get_or_none\("),
        (f"{K8S}/autoscaler.py", r"self\.kube\.create\(path, body\)"),
        (f"{K8S}/autoscaler.py", r"self\.kube\.replace\("),
    )),
    Use("", ("services",), ("get", "create", "update", "patch"), (
        (f"{K8S}/services.py", r'resource_path\("v1", "services"'),
        (f"{K8S}/services.py", r"self\.kube\.get_or_none\(path\)"),
        (f"{K8S}/services.py", r'self\.kube\.create\(resource_path\("v1", "services", ns\)'),
        (f"{K8S}/services.py", r"self\.kube\.replace\(path, body\)"),
        (f"{K8S}/services.py", r'self\.kube\.patch\(self\._path\(canary, apex\), \{"metadata"'),
    )),
    # Provider `kubernetes`: blue/green by the apex Service's selector (typed CoreV1Api).
    Use("", ("services",), ("get", "patch"), (
        ("routers/kubernetes_service.py", r"self\.core\.read_namespaced_service\("),
        ("routers/kubernetes_service.py", r"self\.core\.patch_namespaced_service\("),
    )),
    Use("", ("configmaps", "secrets"), ("get", "create", "update"), (
        (f"{K8S}/configs.py", r'PLURALS = \{"ConfigMap": "configmaps", "Secret": "secrets"\}'),
        (f"{K8S}/configs.py", r"self\.kube\.get_or_none\("),
        (f"{K8S}/configs.py", r"self\.kube\.create\(path, body\)"),
        (f"{K8S}/configs.py", r"self\.kube\.replace\("),
    )),
    # Manual commands: the ConfigMap `sluice-commands`, taken by the tick and re-queued when deferred.
    Use("", ("configmaps",), ("get", "create", "patch"), (
        (f"{K8S}/store.py", r'path = resource_path\("v1", "configmaps", namespace, COMMANDS_CONFIGMAP\)'),
        (f"{K8S}/store.py", r"found = self\.kube\.get_or_none\(path\)"),
        (f"{K8S}/store.py", r"self\.kube\.patch\(path, patch\)"),
        (f"{K8S}/store.py", r'self\.kube\.create\(resource_path\("v1", "configmaps", namespace\), body\)'),
        ("runtime/tick.py", r"self\.store\.enqueue_command\("),
    )),
    Use("", ("secrets",), ("get",), (
        (f"{K8S}/store.py", r'self\.kube\.get_or_none\(resource_path\("v1", "secrets"'),
    )),
    Use("", ("events",), ("create",), (
        (f"{K8S}/store.py", r'self\.kube\.create\(resource_path\("v1", "events"'),
    )),
    Use("split.smi-spec.io", ("trafficsplits",), ("get", "create", "update", "delete"), (
        ("routers/smi.py", r'CustomObjects\(api, SPLIT_GROUP, version, "trafficsplits"\)'),
    )),
    Use("specs.smi-spec.io", ("httproutegroups",), ("get", "create", "update", "delete"), (
        ("routers/smi.py", r'CustomObjects\(api, SPECS_GROUP, version, "httproutegroups"\)'),
    )),
    Use("gateway.networking.k8s.io", ("httproutes",), ("get", "create", "update", "delete"), (
        ("routers/gateway_api.py", r'CustomObjects\(api, GROUP, VERSION, "httproutes"\)'),
    )),
    Use("coordination.k8s.io", ("leases",), ("get", "create", "update"), (
        ("runtime/leader.py", r"read_namespaced_lease\("),
        ("runtime/leader.py", r"create_namespaced_lease\("),
        ("runtime/leader.py", r"replace_namespaced_lease\("),
    )),
]  # fmt: skip

# Calls the controller's code makes for a user, not for itself: `sluice events` lists Events with the
# user's kubeconfig; the controller never does.
NOT_THE_CONTROLLER = {(f"{K8S}/store.py", "events", "list")}

KUBE_CLIENT_VERBS = {
    "get": {"get", "list"},
    "get_or_none": {"get"},
    "create": {"create"},
    "replace": {"update"},
    "patch": {"patch"},
    "delete": {"delete"},
    "watch": {"watch"},
}


# ------------------------------------------------------------------------------------------- the code


def controller_modules() -> dict[str, Path]:
    """Modules that talk to the apiserver on the controller's behalf (they import the Kubernetes client)."""
    roots = [REPO / "controller" / "platforms" / "kubernetes", REPO / "controller" / "routers"]
    files = [p for root in roots for p in sorted(root.glob("*.py"))]
    files += [
        REPO / "controller" / "runtime" / "leader.py",
        REPO / "controller" / "runtime" / "kubernetes.py",
    ]
    files.append(REPO / "controller" / "cli" / "controller.py")
    found = {}
    for path in files:
        if not path.exists():
            continue
        text = path.read_text()
        if re.search(r"^from kubernetes|^import kubernetes|platforms\.kubernetes\.client import", text, re.M):
            found[str(path.relative_to(REPO / "controller"))] = path
    return found


@cache
def typed_api_methods() -> dict[str, set[tuple[str, str, str]]]:
    """Every typed client method name -> the (group, resource, verb) it needs, read from the client's source.

    Each generated `_<method>_serialize` names its HTTP method and resource path; CustomObjectsApi is left out
    (its group and plural are arguments, handled through the CustomObjects wrapper).
    """
    serialize = re.compile(r"def _(\w+)_serialize\(.*?method='(\w+)',\s*resource_path='([^']+)'", re.S)
    methods: dict[str, set[tuple[str, str, str]]] = {}
    for path in sorted((Path(kubernetes.client.__file__).parent / "api").glob("*_api.py")):
        if path.name == "custom_objects_api.py":
            continue
        for name, http_method, resource_path in serialize.findall(path.read_text()):
            needs = _needs(http_method, resource_path)
            if needs is not None:
                methods.setdefault(name, set()).add(needs)
    return methods


def _needs(http_method: str, path: str) -> tuple[str, str, str] | None:
    """(group, resource[/subresource], verb) for a resource path; None for discovery and other paths."""
    parts = path.strip("/").split("/")
    if parts[0] not in ("api", "apis") or len(parts) < 3:
        return None
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest[:2] == ["namespaces", "{namespace}"] and len(rest) > 2:
        rest = rest[2:]
    if not rest or rest[0].startswith("{"):
        return None
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    named = len(rest) > 1
    verb = {
        "GET": "get" if named else "list",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }.get(http_method, http_method.lower())  # HEAD/OPTIONS: only pod and node proxy paths
    return group, resource, verb


@cache
def known_plurals() -> frozenset[str]:
    plurals = {resource.split("/")[0] for needs in typed_api_methods().values() for _, resource, _ in needs}
    plurals |= {r.split("/")[0] for use in USES for r in use.resources}
    return frozenset(p for p in plurals if p.isalpha())


def kube_client_verbs(tree: ast.AST) -> set[str]:
    """KubeClient methods called as `<x>.kube.<method>(...)`."""
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "kube"
    }


def string_constants(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def typed_calls(tree: ast.AST) -> set[str]:
    methods = typed_api_methods()
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods
    }


def custom_object_verbs() -> dict[str, set[str]]:
    """CustomObjects wrapper method -> verbs, from the CustomObjectsApi calls inside each method."""
    tree = ast.parse((REPO / "controller" / "routers" / "custom_objects.py").read_text())
    verbs_of = {"get": "get", "list": "list", "create": "create", "replace": "update", "patch": "patch",
                "delete": "delete"}  # fmt: skip
    result: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            calls = [c.func.attr for c in ast.walk(node)
                     if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                     and c.func.attr.endswith("_custom_object")]  # fmt: skip
            result[node.name] = {verbs_of[call.split("_")[0]] for call in calls}
    return result


def custom_object_uses(module: str, tree: ast.AST) -> set[tuple[str, str, str]]:
    """(group, plural, verb) for `self.x = CustomObjects(api, GROUP, VERSION, "plural")` and `self.x.m()`."""
    imported = importlib.import_module("controller." + module.removesuffix(".py").replace("/", "."))
    attrs: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "CustomObjects"
            and isinstance(node.targets[0], ast.Attribute)
        ):
            group_arg, plural_arg = node.value.args[1], node.value.args[3]
            group = (
                group_arg.value if isinstance(group_arg, ast.Constant) else getattr(imported, group_arg.id)
            )
            assert isinstance(plural_arg, ast.Constant), f"{module}: plural must be a literal for this test"
            attrs[node.targets[0].attr] = (group, plural_arg.value)
    verbs = custom_object_verbs()
    uses = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in attrs
        ):
            group, plural = attrs[node.func.value.attr]
            uses |= {(group, plural, verb) for verb in verbs[node.func.attr]}
    return uses


# ------------------------------------------------------------------------------------------- the chart


def rendered_rules() -> set[tuple[str, str, str]]:
    documents = template("leaderElection.enabled=true")
    rules = [r for kind in ("ClusterRole", "Role") for doc in find(documents, kind) for r in doc["rules"]]
    return {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def table() -> set[tuple[str, str, str]]:
    return set().union(*(use.triples() for use in USES))


# ------------------------------------------------------------------------------------------- the tests


def test_chart_grants_exactly_the_table() -> None:
    rules, needed = rendered_rules(), table()
    assert not needed - rules, f"the chart misses what the code calls: {sorted(needed - rules)}"
    assert not rules - needed, f"the chart grants what no code calls: {sorted(rules - needed)}"


@pytest.mark.parametrize(
    "use", USES, ids=lambda u: f"{u.group or 'core'}-{'-'.join(u.resources)}-{'-'.join(u.verbs)}"
)
def test_every_grant_still_has_its_call_in_the_code(use: Use) -> None:
    for module, pattern in use.evidence:
        path = REPO / "controller" / module
        assert path.exists(), f"{module} is gone; drop or move the rule for {use.resources}"
        assert re.search(pattern, path.read_text()), f"{module} no longer has /{pattern}/ ({use.resources})"


def test_no_module_calls_what_the_table_does_not_know() -> None:
    modules = controller_modules()
    assert f"{K8S}/store.py" in modules and "routers/smi.py" in modules, sorted(modules)
    problems = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        rows = [use for use in USES if module in use.modules()]
        covered_plurals = {r.split("/")[0] for use in rows for r in use.resources}
        covered_verbs = {v for use in rows for v in use.verbs}
        for plural in sorted(string_constants(tree) & known_plurals()):
            if plural not in covered_plurals and not any(
                (module, plural, verb) in NOT_THE_CONTROLLER for verb in ("list", "get")
            ):
                problems.append(f"{module} names {plural!r}, but no row of that module grants it")
        for method in sorted(kube_client_verbs(tree) - {"request"}):
            if method in KUBE_CLIENT_VERBS and not KUBE_CLIENT_VERBS[method] & covered_verbs:
                problems.append(f"{module} calls kube.{method}(), but no row of that module has that verb")
        if "request" in kube_client_verbs(tree):
            problems.append(
                f"{module} calls kube.request() directly: use the verb methods so RBAC can follow"
            )
        for method in sorted(typed_calls(tree)):
            for needs in typed_api_methods()[method]:
                if needs not in {t for use in rows for t in use.triples()}:
                    problems.append(f"{module} calls {method}() which needs {needs}, not in its rows")
        if module.startswith("routers/") and module != "routers/custom_objects.py":
            for needs in sorted(custom_object_uses(module, tree)):
                if needs not in {t for use in rows for t in use.triples()}:
                    problems.append(f"{module} uses custom objects {needs}, not in its rows")
    assert not problems, "\n".join(problems)


def test_the_derivation_sees_typed_calls() -> None:
    """Guard the guard: the client introspection maps a known method to the right RBAC triple."""
    assert typed_api_methods()["patch_namespaced_service"] == {("", "services", "patch")}
    assert typed_api_methods()["replace_namespaced_lease"] == {("coordination.k8s.io", "leases", "update")}
    assert ("apps", "deployments/scale", "patch") in typed_api_methods()["patch_namespaced_deployment_scale"]
    assert custom_object_verbs()["apply"] == {"create", "update"}
