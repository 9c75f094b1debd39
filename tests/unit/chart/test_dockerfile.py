"""The Dockerfile, checked by parsing (no image is built here): multi-stage, slim, non-root, entry points.

Why parse instead of hadolint: no container tooling on this machine, and the checks that matter are about
this project: that each target's CMD is a real `sluice` subcommand with options it accepts, and that no stage
a container can run from has root as its user.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from controller.cli import main as cli_main

REPO = Path(__file__).resolve().parents[3]
ENTRY_POINTS = ("controller", "proxy", "loadtester")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [arg for key, arg in self.instructions if key == keyword]
        return values[-1] if values else None


def parse(text: str) -> list[Stage]:
    """Instructions per stage, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arg = line.partition(" ")
        keyword, arg = keyword.upper(), arg.strip()
        if keyword == "FROM":
            words = arg.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif stages:
            stages[-1].instructions.append((keyword, arg))
    return stages


STAGES = parse((REPO / "Dockerfile").read_text())
BY_NAME = {stage.name: stage for stage in STAGES}


def effective(stage: Stage, keyword: str) -> str | None:
    """An instruction's value as a stage inherits it from the stage it is built FROM."""
    while True:
        value = stage.last(keyword)
        if value is not None or stage.base not in BY_NAME:
            return value
        stage = BY_NAME[stage.base]


def runnable_stages() -> list[Stage]:
    """Every stage an image can be built to, except the builder (nothing runs from it)."""
    return [s for s in STAGES if s.name != "builder"]


def exec_form(value: str | None) -> list[str]:
    assert value is not None and value.startswith("["), f"not exec form (signals would miss PID 1): {value}"
    return json.loads(value)


def test_multi_stage_build_on_slim_bases() -> None:
    assert len(STAGES) >= 2
    assert "builder" in BY_NAME
    for stage in STAGES:
        if stage.base not in BY_NAME:
            assert "slim" in stage.base, f"stage {stage.name} is not on a slim base: {stage.base}"
    runtime = BY_NAME["runtime"]
    copies = [arg for key, arg in runtime.instructions if key == "COPY"]
    assert copies and all(arg.startswith("--from=builder") for arg in copies), copies
    # No compiler or package install at run time: those belong to the builder.
    for stage in runnable_stages():
        for key, arg in stage.instructions:
            assert not (key == "RUN" and ("apt-get install" in arg or "pip install" in arg)), (
                stage.name,
                arg,
            )
            assert key != "ADD", "ADD fetches and unpacks implicitly; COPY only"


def test_no_runnable_stage_runs_as_root() -> None:
    for stage in runnable_stages():
        user = effective(stage, "USER")
        assert user is not None, f"stage {stage.name} has no USER: it would run as root"
        uid = user.split(":")[0]
        assert uid.isdigit() and int(uid) != 0, f"stage {stage.name}: USER {user} (numeric non-root wanted)"
        # Nothing in the lineage switches back to root after the USER line.
        for key, arg in stage.instructions:
            assert not (key == "USER" and arg.split(":")[0] in ("0", "root")), stage.name


def test_default_target_is_the_controller() -> None:
    assert STAGES[-1].name == "controller"


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_entry_points_are_real_commands_with_real_options(entry_point: str) -> None:
    stage = BY_NAME[entry_point]
    assert exec_form(effective(stage, "ENTRYPOINT")) == ["sluice"]
    argv = exec_form(stage.last("CMD"))
    assert argv[0] == entry_point
    refs = {ref.split(":")[1]: ref for ref in cli_main.COMMANDS}
    if entry_point not in refs:
        pytest.skip(f"`sluice {entry_point}` is not registered in controller/cli/main.py yet")
    module_name, attr = refs[entry_point].split(":")
    module = __import__(module_name, fromlist=[attr])
    command: click.Command = getattr(module, attr)
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    given = [word.split("=")[0] for word in argv[1:] if word.startswith("--")]
    unknown = [opt for opt in given if opt not in options]
    assert not unknown, f"`sluice {entry_point}` has no option(s) {unknown}; it has {sorted(options)}"
    ctx = command.make_context(entry_point, argv[1:], resilient_parsing=True)
    assert ctx is not None, shlex.join(argv)


def test_image_gets_every_package_and_nothing_else() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore, ".dockerignore should exclude everything, then re-include the packages"
    for package in packages:
        assert f"!{package}/" in ignore, f".dockerignore drops package {package}"
        assert any(key == "COPY" and arg.startswith(package) for key, arg in BY_NAME["builder"].instructions)
