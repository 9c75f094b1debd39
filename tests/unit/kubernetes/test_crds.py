"""The committed CRDs are what the models generate, and they are structural (what the API server needs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from controller.api.crd_schema import all_crds

ROOT = Path(__file__).resolve().parents[3]


def _walk(node: Any, path: str = "") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _walk(value, f"{path}[{index}]")
    return found


def test_committed_crds_match_the_models() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_crds.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_schemas_are_structural() -> None:
    for name, crd in all_crds().items():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, node in _walk(schema):
            assert not {"$ref", "anyOf", "oneOf", "allOf", "const", "default", "title"} & set(node), (
                name,
                path,
            )
            if "properties" in node:
                assert node.get("type") == "object", (name, path)
                assert "additionalProperties" not in node, (name, path)


def test_canary_crd_has_status_columns_and_bounds() -> None:
    crd = all_crds()["canaries"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Status", "Weight", "FailedChecks", "Interval", "LastTransitionTime"]
    assert crd["spec"]["names"]["categories"] == ["all", "sluice"]
    analysis = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["analysis"][
        "properties"
    ]
    assert (analysis["stepWeight"]["minimum"], analysis["stepWeight"]["maximum"]) == (1, 100)
    assert analysis["interval"]["pattern"].startswith("^")
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["required"]) == {"targetRef", "service"}
    assert spec["properties"]["service"]["properties"]["targetPort"]["x-kubernetes-int-or-string"] is True
