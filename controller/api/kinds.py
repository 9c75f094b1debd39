"""Every resource kind sluice reads, by `kind`: the loader and the stores dispatch through this one table.

Adding a kind is one line here.
"""

from __future__ import annotations

from controller.api.alert_provider import AlertProvider
from controller.api.base import Model
from controller.api.canary import Canary
from controller.api.metric_template import MetricTemplate
from controller.api.workload import Workload

KINDS: dict[str, type[Model]] = {
    "Canary": Canary,
    "MetricTemplate": MetricTemplate,
    "AlertProvider": AlertProvider,
    "Workload": Workload,
}
