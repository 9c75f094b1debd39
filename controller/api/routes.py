"""What a router sets and reads back: weights in, weights out, nothing else leaks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Routes:
    primary_weight: int = 100
    canary_weight: int = 0
    # Mirror a copy of primary traffic to the canary (responses from the canary are discarded).
    mirrored: bool = False
    mirror_weight: int = 100
    # A/B: when true, requests matching `analysis.match` go to the canary by the weights above and all
    # other requests to the primary; when false the weights apply to every request.
    matched: bool = False

    def __post_init__(self) -> None:
        if self.primary_weight + self.canary_weight != 100:
            raise ValueError(f"weights must sum to 100 (got {self.primary_weight}/{self.canary_weight})")
        if not (0 <= self.primary_weight <= 100 and 0 <= self.canary_weight <= 100):
            raise ValueError(f"weights must be in 0..100 (got {self.primary_weight}/{self.canary_weight})")


PRIMARY_ONLY = Routes()
