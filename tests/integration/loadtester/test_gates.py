"""Acceptance: confirm gates block until opened and the rollback gate signals abort, over real HTTP.

controller.hooks (what the controller runs each tick) against a running `sluice loadtester`.
"""

from __future__ import annotations

import threading

import httpx

from controller.api.canary import CanaryWebhook
from controller.hooks import HookResult, HookSubject, call_webhook, payload, rollback_signalled, run_hooks
from tests.harness.poll import wait_until

PODINFO = HookSubject(name="podinfo", namespace="test", phase="Progressing", checksum="abc")


def hook(url: str, hook_type: str) -> CanaryWebhook:
    return CanaryWebhook.model_validate({"name": f"{hook_type}-gate", "type": hook_type, "url": url})


def post(base: str, path: str, name: str = "podinfo", namespace: str = "test") -> httpx.Response:
    return httpx.post(base + path, json={"name": name, "namespace": namespace}, timeout=5)


def check(webhook: CanaryWebhook, subject: HookSubject = PODINFO) -> HookResult:
    return call_webhook(webhook, payload(webhook, subject))


def test_approve_and_halt_gates(loadtester: str) -> None:
    assert check(hook(loadtester + "/gate/approve", "confirm-rollout")).ok
    halted = check(hook(loadtester + "/gate/halt", "confirm-rollout"))
    assert (halted.ok, halted.status) == (False, 403)


def test_confirm_gate_blocks_until_opened(loadtester: str) -> None:
    gate = hook(loadtester + "/gate/check", "confirm-promotion")
    polls: list[HookResult] = []

    def controller_ticks() -> None:  # what the engine does: ask again every tick until the gate passes
        while not (polls and polls[-1].ok):
            polls.extend(run_hooks([gate], "confirm-promotion", PODINFO))

    ticking = threading.Thread(target=controller_ticks)
    ticking.start()
    wait_until(lambda: len(polls) >= 5, what="the gate to be polled a few times")
    assert not any(result.ok for result in polls), "the gate passed before it was opened"
    assert {result.status for result in polls} == {403}
    assert post(loadtester, "/gate/open").status_code == 202
    ticking.join(timeout=10)
    assert polls[-1].ok and polls[-1].status == 200

    assert check(gate, HookSubject("podinfo", "other", "Progressing")).status == 403, (
        "gates are per namespace"
    )
    assert post(loadtester, "/gate/close").status_code == 202
    assert check(gate).status == 403


def test_rollback_gate_signals_abort_once_opened(loadtester: str) -> None:
    rollback = [hook(loadtester + "/rollback/check", "rollback")]
    assert not rollback_signalled(run_hooks(rollback, "rollback", PODINFO))
    assert post(loadtester, "/rollback/open").status_code == 202
    assert rollback_signalled(run_hooks(rollback, "rollback", PODINFO))
    assert not rollback_signalled(
        run_hooks(rollback, "rollback", HookSubject("podinfo", "prod", "Progressing"))
    )
    assert post(loadtester, "/rollback/close").status_code == 202
    assert not rollback_signalled(run_hooks(rollback, "rollback", PODINFO))


def test_confirm_and_rollback_gates_are_separate(loadtester: str) -> None:
    post(loadtester, "/gate/open")
    assert check(hook(loadtester + "/rollback/check", "rollback")).status == 403
