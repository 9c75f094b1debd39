"""Per-second windows: counts over exactly the asked span, quantiles within one bucket."""

from __future__ import annotations

from mesh.proxy.windows import KEEP_SECONDS, Window


def test_summary_covers_only_the_last_n_seconds():
    window = Window()
    for second in range(1000, 1010):
        for latency in range(1, 11):
            window.record(second, float(latency), error=latency == 10)
    recent = window.summary(1009, 5)
    assert recent["requests"] == 50 and recent["errors"] == 5 and recent["success_rate"] == 90.0
    p = recent["latency_ms"]
    assert 5 <= p["p50"] <= 5.5 and 9 <= p["p90"] <= 9.9 and 10 <= p["p99"] <= 11
    assert window.summary(2000, 60) == {"requests": 0, "errors": 0, "success_rate": None, "latency_ms": None}


def test_old_seconds_are_dropped():
    window = Window()
    window.record(0, 1.0, False)
    window.record(KEEP_SECONDS + 5, 1.0, False)
    assert len(window.seconds) == 1
