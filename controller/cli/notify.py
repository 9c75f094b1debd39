"""`sluice notify test`: send one sample message through an AlertProvider and print the HTTP outcome.

So a user can check a webhook URL, a bot token or a proxy before a rollout depends on them. The message
goes out once, synchronously, without the delivery queue's retries, so the printed outcome is exactly
what the chat service answered. Secrets are read as in local mode (controller/notify/local_secrets.py).
"""

from __future__ import annotations

from pathlib import Path

import click

from controller.api.alert_provider import AlertProvider
from controller.api.loading import load_file
from controller.notify.endpoint import ProviderConfigError
from controller.notify.local_secrets import local_secrets
from controller.notify.registry import notifier_for
from controller.ports.notifier import SEVERITIES, DeliveryError, Notification, Severity

SAMPLES: dict[str, tuple[str, int, str, str]] = {
    "info": ("Progressing", 20, "Advance canary weight 20 (sluice notify test)", ""),
    "warn": ("WaitingPromotion", 50, "Canary promotion is waiting for approval (sluice notify test)", ""),
    "error": (
        "Failed",
        0,
        "Canary analysis failed, failed checks threshold reached 2 (sluice notify test)",
        "request-success-rate 91.20 outside [99, 100]",
    ),
}

_EPILOG = """\b
Examples:
  sluice notify test -f examples/notifications/slack-webhook.yaml
  SLUICE_SECRET_SLACK_BOT_TOKEN=xoxb-... sluice notify test -f slack-bot.yaml --severity warn

\b
Secrets named by spec.secretRef are read from env SLUICE_SECRET_<NAME>_<KEY> or from files
$SLUICE_SECRETS_DIR/<name>/<key> (keys: address, token, proxy); see docs/notifications.md.
Exits 1 when the manifest is invalid or any provider did not accept the message.
"""


def sample(provider: AlertProvider, severity: Severity, cluster: str) -> Notification:
    phase, weight, message, reason = SAMPLES[severity]
    return Notification(
        canary="podinfo",
        namespace=provider.metadata.namespace,
        phase=phase,
        severity=severity,
        message=message,
        cluster=cluster,
        target=f"Deployment/podinfo.{provider.metadata.namespace}",
        canary_weight=weight,
        primary_weight=100 - weight,
        reason=reason,
        revision="sluice-notify-test",
    )


@click.group()
def notify() -> None:
    """Check chat and webhook notifications (AlertProviders)."""


@notify.command("test", epilog=_EPILOG)
@click.option(
    "-f",
    "--filename",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YAML file with one or more AlertProviders; each gets the sample message.",
)
@click.option("--severity", type=click.Choice(SEVERITIES), default="info", show_default=True)
@click.option("--cluster", default="local", show_default=True, help="Cluster name shown in the message.")
@click.option(
    "--secrets-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of secrets (<name>/<key> files); default $SLUICE_SECRETS_DIR.",
)
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for an answer.")
def test_command(
    path: Path, severity: Severity, cluster: str, secrets_dir: Path | None, timeout: float
) -> None:
    """Send a sample message through each AlertProvider in a file and print the HTTP outcome."""
    loaded = load_file(path)
    for problem in loaded.problems:
        click.echo(str(problem), err=True)
    providers = [item.resource for item in loaded.resources if isinstance(item.resource, AlertProvider)]
    if loaded.problems:
        raise SystemExit(1)
    if not providers:
        click.echo(f"{path}: no AlertProvider found", err=True)
        raise SystemExit(1)
    secrets = local_secrets(directory=secrets_dir)
    failed = 0
    for provider in providers:
        name = f"{provider.metadata.namespace}/{provider.metadata.name} ({provider.spec.type})"
        try:
            status = notifier_for(provider, secrets, timeout).post(sample(provider, severity, cluster))
        except ProviderConfigError as exc:
            click.echo(f"{path}: {exc}", err=True)
            failed += 1
        except DeliveryError as exc:
            click.echo(f"{name}: not delivered: {exc.detail}")
            failed += 1
        else:
            click.echo(f"{name}: delivered, HTTP {status}")
    if failed:
        raise SystemExit(1)
