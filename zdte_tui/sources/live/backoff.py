"""Reconnect policy of the live adapters."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with jitter: attempt ``n`` (0-based) waits
    ``b * (1 - jitter + jitter * u)`` seconds, ``b = min(max_s, initial_s * multiplier**n)``,
    ``u ~ U[0, 1)`` from the injected rng."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.multiplier ** max(0, attempt))
        return base * (1.0 - self.jitter + self.jitter * rng.random())
