"""Chat and webhook notifications: what the runtime uses, in the order it uses it.

    queue = DeliveryQueue()                       # bounded; one worker thread
    queue.start()
    dispatcher = dispatcher_from_settings(queue, providers=lookup_alert_provider, secrets=lookup_secret)
    ...
    for alert in alerts_of(decision):             # after each tick, with the canary's new status
        dispatcher.notify(canary, alert.severity, alert.message, reason=decision.reason)
    ...
    queue.stop()

`notify` returns at once and never raises for delivery trouble. See docs/notifications.md.
"""

from controller.notify.defaults import default_endpoints, dispatcher_from_settings
from controller.notify.dispatcher import Dispatcher, accepts
from controller.notify.endpoint import Endpoint, ProviderConfigError, SecretLookup
from controller.notify.local_secrets import local_secrets
from controller.notify.queue import DeliveryQueue, RetryPolicy
from controller.notify.registry import build, notifier_for

__all__ = [
    "DeliveryQueue",
    "Dispatcher",
    "Endpoint",
    "ProviderConfigError",
    "RetryPolicy",
    "SecretLookup",
    "accepts",
    "build",
    "default_endpoints",
    "dispatcher_from_settings",
    "local_secrets",
    "notifier_for",
]
