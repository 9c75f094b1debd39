"""Fixtures for local-mode tests: a state folder, a supervisor that stops everything it ran, app specs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.api.workload import WorkloadSpec
from controller.platforms.local.database import Database
from controller.platforms.local.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[3]
APP = str(REPO / "examples" / "app" / "app.py")


def app_spec(version: str = "v1", replicas: int = 1, *extra: str, grace: float = 5.0) -> WorkloadSpec:
    return WorkloadSpec.model_validate(
        {
            "replicas": replicas,
            "command": ["{python}", APP],
            "args": ["--port", "{port}", "--version", version, *extra],
            "readinessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 0.2, "failureThreshold": 2},
            "terminationGracePeriodSeconds": grace,
        }
    )


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "state")


@pytest.fixture
def supervisors(db: Database) -> Iterator[list[Supervisor]]:
    """Supervisors a test makes on `db`; the last one open stops every process at the end."""
    made: list[Supervisor] = []
    yield made
    for supervisor in made[:-1]:
        supervisor.close()
    if made:
        made[-1].close(stop_processes=True)


@pytest.fixture
def new_supervisor(db: Database, supervisors: list[Supervisor]):
    def make(**kwargs) -> Supervisor:
        supervisor = Supervisor(db, **kwargs).start()
        supervisors.append(supervisor)
        return supervisor

    return make
