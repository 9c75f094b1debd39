"""`sluice loadtester`: a Flagger-compatible load tester and gate service, with a built-in load generator.

Flagger users point webhooks at `flagger-loadtester` for manual gates (`/gate/*`, `/rollback/*`) and to
start traffic (`POST /` with `metadata.cmd`, usually `hey`). This service speaks the same protocol, so
those manifests work unchanged, and adds `metadata.type: load` so no external load tool is needed.
"""
