"""`sluice apply` of a malformed manifest is refused like `sluice validate` refuses it, and changes nothing.

The file mixes a valid, changed Workload with a broken Canary: all or nothing means the Workload is not
written either. "Nothing changed" is checked three ways: what `sluice get -o json` prints, the store's
change counter (which every write bumps), and the resource versions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.local.rig import Rig, canary, workload

BROKEN = {
    "unknown field": lambda doc: doc["spec"]["analysis"].update(stepWieght=20),
    "bad value": lambda doc: doc["spec"]["analysis"].update(stepWeight=150, interval="soon"),
    "wrong type": lambda doc: doc["spec"].update(service={"port": "http"}),
}


def snapshot(rig: Rig) -> tuple[str, int, list[tuple[str, str]]]:
    shown = rig.sluice("get", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    versions = [(o.kind, o.metadata.model_extra.get("resourceVersion", "")) for o in rig.store.list()]
    return shown.stdout, rig.store.changes(), versions


@pytest.mark.parametrize("breakage", list(BROKEN))
def test_a_malformed_manifest_is_refused_and_changes_nothing(rig: Rig, breakage: str) -> None:
    rig.apply(workload("v1"), canary(rig.port, {"stepWeight": 20}))
    before = snapshot(rig)

    bad = canary(rig.port, {"stepWeight": 20})
    BROKEN[breakage](bad)
    path = rig.workdir / "broken.yaml"
    path.write_text(yaml.safe_dump_all([workload("v2"), bad], sort_keys=False))
    applied = rig.sluice("apply", "-f", str(path))
    validated = rig.sluice("validate", "-f", str(path), state=False)

    assert applied.returncode == 1
    assert validated.returncode == 1
    problems = applied.stdout.splitlines()
    assert problems, applied.stderr
    assert problems == validated.stdout.splitlines(), "the same lines validate prints"
    assert all(line.startswith(f"{path}#2: spec.") for line in problems), problems
    assert "nothing applied" in applied.stderr
    assert snapshot(rig) == before


def test_a_yaml_syntax_error_is_refused_and_changes_nothing(rig: Rig) -> None:
    rig.apply(workload("v1"))
    before = snapshot(rig)
    path = rig.workdir / "syntax.yaml"
    path.write_text(yaml.safe_dump(workload("v2")) + "---\nkind: Canary\nspec: {service: [port: 1\n")

    applied = rig.sluice("apply", "-f", str(path))

    assert applied.returncode == 1
    assert applied.stdout.startswith(f"{path}#2"), applied.stdout
    assert snapshot(rig) == before


def test_the_examples_apply_cleanly(rig: Rig, tmp_path: Path) -> None:
    """The control case: the same command on good manifests writes them."""
    done = rig.sluice("apply", "-f", str(Path(__file__).resolve().parents[3] / "examples" / "local"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(o.kind for o in rig.store.list()) == ["Canary", "Workload"]
