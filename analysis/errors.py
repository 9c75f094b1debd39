"""Errors in what the user wrote (a metric, a template, a provider spec), as opposed to query outcomes.

They are raised with one message naming the metric, template or field and what is wrong, so the runtime
can put that message in an event or a verdict unchanged.
"""

from __future__ import annotations


class MetricConfigError(ValueError):
    """A metric check cannot even be attempted because its configuration is wrong."""
