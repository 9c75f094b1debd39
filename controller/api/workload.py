"""The Workload resource (`sluice.dev/v1beta1`): what local mode runs instead of a Kubernetes Deployment.

A Workload is a command run as `replicas` local processes. A Canary's `targetRef` names one; sluice keeps a
copy of the last promoted spec as the Workload `<name>-primary` (like Flagger's `<name>-primary`
Deployment) and runs the target's current spec as the canary.

Ports: primary and canary processes run side by side, so every process gets its own loopback port. The
platform passes it as the environment variable PORT and substitutes `{port}` in `args` and `env` values;
`{python}` becomes the interpreter running sluice. `port` is only a preference for the first process,
taken when free.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from controller.api.base import API_VERSION, Model
from controller.api.meta import ObjectMeta


class HTTPGetAction(Model):
    path: str = "/healthz"


class ReadinessProbe(Model):
    """HTTP GET on the process's own port; 2xx/3xx is ready. Defaults suit a laptop, not a cluster."""

    http_get: HTTPGetAction = Field(default_factory=HTTPGetAction)
    period_seconds: float = Field(default=1.0, gt=0)
    failure_threshold: int = Field(default=3, ge=1)
    timeout_seconds: float = Field(default=1.0, gt=0)
    initial_delay_seconds: float = Field(default=0.0, ge=0)


class WorkloadSpec(Model):
    replicas: int = Field(default=1, ge=0)
    command: list[str] = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    port: int | None = Field(default=None, ge=1, le=65535)
    # Without a probe a process is ready once its port accepts TCP connections.
    readiness_probe: ReadinessProbe | None = None
    # Relative paths are resolved against the directory the controller runs in.
    working_dir: str | None = None
    # SIGTERM, then SIGKILL after this many seconds.
    termination_grace_period_seconds: float = Field(default=10.0, ge=0)


class Workload(Model):
    api_version: Literal["sluice.dev/v1beta1"] = API_VERSION
    kind: Literal["Workload"] = "Workload"
    metadata: ObjectMeta
    spec: WorkloadSpec
    status: dict | None = None
