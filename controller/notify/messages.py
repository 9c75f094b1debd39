"""Render a Notification into a provider's JSON body from templates/notifications/<provider>.j2.

Message text lives in templates, not in code, so an operator can change wording or layout without a
release (Flagger #564, #926): point SLUICE_NOTIFICATION_TEMPLATES at a directory holding their own
copies. Templates write JSON; every value goes through `tojson`, so no message text can break the body.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from controller.ports.notifier import Notification

TEMPLATES_ENV = "SLUICE_NOTIFICATION_TEMPLATES"
BUILTIN_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notifications"

# Slack/Rocket/Teams-compatible hex colours, and the same as integers for Discord embeds.
SEVERITY_COLORS = {"info": "#2eb886", "warn": "#daa038", "error": "#a30200"}
TEAMS_COLORS = {"info": "Good", "warn": "Warning", "error": "Attention"}
SEVERITY_ICONS = {"info": ":large_green_circle:", "warn": ":warning:", "error": ":red_circle:"}


class TemplateError(Exception):
    """A notification template is missing or does not render to JSON."""


def templates_dir() -> Path:
    return Path(os.environ.get(TEMPLATES_ENV) or BUILTIN_TEMPLATES)


@lru_cache(maxsize=8)
def _environment(directory: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mrkdwn"] = mrkdwn
    return env


def mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def title(n: Notification) -> str:
    name = f"{n.canary}.{n.namespace}"
    return f"[{n.cluster}] {name}" if n.cluster else name


def facts(n: Notification) -> list[tuple[str, str]]:
    """The labelled values every card shows, in order; empty ones left out."""
    rows = [
        ("Cluster", n.cluster),
        ("Target", n.target),
        ("Phase", n.phase),
        ("Weights", f"canary {n.canary_weight}% / primary {n.primary_weight}%"),
        ("Reason", n.reason),
        *n.fields.items(),
    ]
    return [(label, str(value)) for label, value in rows if value not in ("", None)]


def context(n: Notification, **extra: Any) -> dict[str, Any]:
    return {
        "n": n,
        "title": title(n),
        "facts": facts(n),
        "color": SEVERITY_COLORS[n.severity],
        "color_int": int(SEVERITY_COLORS[n.severity].lstrip("#"), 16),
        "teams_color": TEAMS_COLORS[n.severity],
        "icon": SEVERITY_ICONS[n.severity],
        **extra,
    }


def render(provider: str, n: Notification, **extra: Any) -> dict[str, Any]:
    """The JSON body for `provider` (the template `<provider>.j2`) as a dict."""
    directory = templates_dir()
    name = f"{provider}.j2"
    try:
        text = _environment(str(directory)).get_template(name).render(context(n, **extra))
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"{directory / name}: template not found") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{directory / name}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{directory / name}: does not render to JSON: {exc}") from exc
