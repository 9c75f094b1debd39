"""Real rollouts of the engine (driven tick by tick as the runtime does) announce themselves to every
alert provider with exactly the messages its severity lets through: a promotion, then a rollback.

Wiring under test, as the runtime does it: after each tick, for every `Alert` action of the decision,
`dispatcher.notify(canary_with_new_status, alert.severity, alert.message, reason=decision.reason)`.
"""

from __future__ import annotations

from controller.api.alert_provider import AlertProvider
from controller.engine import Alert, Decision
from controller.notify.dispatcher import Dispatcher
from controller.notify.queue import DeliveryQueue, RetryPolicy
from tests.integration.notify.receiver import Receiver, SlackWebApi
from tests.unit.engine.world import LOW_SUCCESS, World, hook, initialized, make_canary, set_revision

ALERTS = [
    {"name": "team", "severity": "info", "providerRef": {"name": "team-slack"}},
    {"name": "everything", "severity": "info", "providerRef": {"name": "audit"}},
    {"name": "release", "severity": "warn", "providerRef": {"name": "release"}},
    {"name": "on-call", "severity": "error", "providerRef": {"name": "pager", "namespace": "ops"}},
]


def providers(url: str) -> dict[tuple[str, str], AlertProvider]:
    def make(name: str, namespace: str, spec: dict) -> AlertProvider:
        return AlertProvider.model_validate(
            {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
        )

    return {
        ("test", "team-slack"): make(
            "team-slack", "test", {"type": "slack", "channel": "deploys", "secretRef": {"name": "bot"}}
        ),
        ("test", "audit"): make("audit", "test", {"type": "webhook", "address": f"{url}/audit"}),
        ("test", "release"): make("release", "test", {"type": "webhook", "address": f"{url}/release"}),
        ("ops", "pager"): make("pager", "ops", {"type": "webhook", "address": f"{url}/pager"}),
    }


def announce(dispatcher: Dispatcher, world: World, decision: Decision) -> None:
    for action in decision.actions:
        if isinstance(action, Alert):
            dispatcher.notify(world.canary, action.severity, action.message, reason=decision.reason)


def test_a_promotion_and_a_rollback_reach_each_provider_per_its_severity() -> None:
    slack = SlackWebApi()

    def answer(request):
        return slack(request) if request.path.startswith("/api/") else (200, {}, "ok")

    queue = DeliveryQueue(policy=RetryPolicy(attempts=2, backoff=0.01))
    queue.start()
    try:
        with Receiver(answer) as receiver:
            table = providers(receiver.url)
            secrets = {("test", "bot"): {"token": "xoxb-rollouts", "address": f"{receiver.url}/api/"}}
            dispatcher = Dispatcher(
                queue,
                lambda ns, name: table.get((ns, name)),
                lambda ns, name: secrets.get((ns, name)),
                cluster="kind",
            )
            analysis = {"stepWeight": 25, "maxWeight": 50, "threshold": 1, "alerts": ALERTS}
            world = initialized(make_canary({**analysis, "webhooks": [hook("go", "confirm-rollout")]}))
            announce(dispatcher, world, world.decisions[-1])

            # promotion, after waiting for approval for two ticks
            world.hook_answers["go"] = "not yet"
            set_revision("v2")(world)
            for _ in range(2):
                announce(dispatcher, world, world.tick())
            world.hook_answers["go"] = True
            while world.phase != "Succeeded":
                announce(dispatcher, world, world.tick())

            # rollback: the next revision fails its checks
            set_revision("v3")(world)
            announce(dispatcher, world, world.tick())
            world.metrics = (LOW_SUCCESS,)
            while world.phase != "Failed":
                announce(dispatcher, world, world.tick())

            assert queue.flush(timeout=10)
            requests = receiver.received()
    finally:
        queue.stop()

    def seen(path: str) -> list[tuple[str, str, str]]:
        """(severity, phase, the start of the message that matches the expectation) per request."""
        out = []
        for body in (r.json() for r in requests if r.path == path):
            start = next(
                (m for _, _, m in promote_and_rollback if body["message"].startswith(m)), body["message"]
            )
            out.append((body["severity"], body["phase"], start))
        return out

    promote_and_rollback = [
        ("info", "Initialized", "Initialization done! podinfo.test"),
        ("warn", "Waiting", "Canary podinfo.test is waiting for approval to start the rollout"),
        ("info", "Progressing", "New revision detected, progressing canary analysis"),
        ("info", "Succeeded", "Canary analysis completed successfully, promotion finished"),
        ("info", "Progressing", "New revision detected, progressing canary analysis"),
        ("error", "Failed", "Canary analysis failed"),
    ]
    assert seen("/audit") == promote_and_rollback
    assert seen("/release") == [m for m in promote_and_rollback if m[0] in ("warn", "error")]
    assert seen("/pager") == [m for m in promote_and_rollback if m[0] == "error"]
    failed = next(r.json() for r in requests if r.path == "/pager")
    assert failed["cluster"] == "kind"
    assert failed["revision"] == "v3"
    assert failed["reason"].startswith("rolled back: request-success-rate 91.2% is below min 99%")

    # Slack bot: one message per rollout (v1 init, v2 promotion, v3 rollback), updated in place,
    # with the rollback's error also replied in its thread.
    calls = [(r.path.removeprefix("/api/"), r.json()) for r in requests if r.path.startswith("/api/")]
    assert [(path, body.get("thread_ts")) for path, body in calls] == [
        ("chat.postMessage", None),  # v1: Initialized
        ("chat.postMessage", None),  # v2: Waiting (warn opens the rollout's message)
        ("chat.update", None),  # v2: Progressing
        ("chat.update", None),  # v2: Succeeded
        ("chat.postMessage", None),  # v3: Progressing
        ("chat.update", None),  # v3: Failed
        ("chat.postMessage", "1700000000.000003"),  # v3: the error, in the rollout's thread
    ]
    assert [body["ts"] for path, body in calls if path == "chat.update"] == [
        "1700000000.000002",
        "1700000000.000002",
        "1700000000.000003",
    ]
